"""A partner's state hook, as the README describes it, for a fake whose admin API the kit cannot
see: it changes contacts through an admin URL only it knows (AB_TEST_ADMIN_URL)."""
from __future__ import annotations

import json
import os
import sys

import requests


def main(argv: list[str]) -> int:
    action, entity, *rest = argv
    if entity != "contact":
        print(f"unsupported entity {entity}", file=sys.stderr)
        return 2
    body = {"entity": "contact", "op": action}
    if action == "create":
        body["account_id"] = os.environ["AB_KIT_ACCOUNT_ID"]
    else:
        body["id"] = rest[0]
    if action == "update":
        body["changes"] = {"tags": ["Conformance kit"]}
    answer = requests.post(f"{os.environ['AB_TEST_ADMIN_URL']}/__admin/mutate", json=body, timeout=10)
    if answer.status_code >= 300:
        print(f"admin answered {answer.status_code}: {answer.text}", file=sys.stderr)
        return 1
    print(json.dumps({"id": answer.json()["record"]["id"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
