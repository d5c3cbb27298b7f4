"""Small assertions every area shares, each failing with the exchange that shows the problem.

A status check also reads the RFC 9457 `code` when the body is problem+json, but does not
demand problem+json: that is `api.errors.problem_json`'s subject, so a server answering errors
as HTML fails that check, not every check that provokes an error.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from common.timestamps import format_rfc3339, parse_rfc3339

from ..model import Fail, Skip
from ..probe import Reply

CHALLENGE_ERROR = re.compile(r'error\s*=\s*"?([a-z_]+)"?', re.IGNORECASE)


def expect_status(reply: Reply, status: int | tuple[int, ...], code: str | tuple[str, ...] | None = None,
                  what: str = "") -> None:
    statuses = (status,) if isinstance(status, int) else status
    codes = (code,) if isinstance(code, str) else code
    label = f"{what}: " if what else ""
    if reply.status not in statuses:
        wanted = " or ".join(str(s) for s in statuses)
        raise Fail(f"{label}answered {reply.status}, expected {wanted}" +
                   (f" ({' or '.join(codes)})" if codes else ""), reply.exchange)
    found = reply.problem_code
    if codes and found is not None and found not in codes:
        raise Fail(f"{label}answered {reply.status} with code {found!r}, expected {' or '.join(codes)}",
                   reply.exchange)


def expect_schema(ctx, name: str, reply: Reply, what: str) -> Any:
    """The reply's JSON body, after checking it is a `name` of the contract's schemas."""
    errors = ctx.contract.schema_errors(name, reply.json)
    if errors:
        article = "an" if name[0] in "AEIOU" else "a"
        raise Fail(f"{what} answered a body that is not {article} {name}: {errors[0]}", reply.exchange)
    return reply.json


def bearer_challenge(reply: Reply, error: str | None = None) -> str | None:
    """What is wrong with the RFC 6750 §3 `WWW-Authenticate` challenge, or None."""
    header = reply.headers.get("WWW-Authenticate")
    if not header:
        return f"{reply.status} without a WWW-Authenticate header"
    if not header.strip().lower().startswith("bearer"):
        return f"WWW-Authenticate is {header!r}, not a Bearer challenge"
    if error is not None:
        found = CHALLENGE_ERROR.search(header)
        if found is None or found.group(1) != error:
            return f'WWW-Authenticate is {header!r}, without error="{error}"'
    return None


def expect_challenge(reply: Reply, error: str | None = None, what: str = "") -> None:
    problem = bearer_challenge(reply, error)
    if problem:
        raise Fail(f"{what}: {problem}" if what else problem, reply.exchange)


def token_error(reply: Reply, errors: tuple[str, ...], status: tuple[int, ...] = (400,), what: str = "") -> None:
    """An RFC 6749 §5.2 error answer: the status and a JSON `error` among `errors`."""
    body = reply.json if isinstance(reply.json, dict) else {}
    label = f"{what}: " if what else ""
    if reply.status not in status or body.get("error") not in errors:
        raise Fail(f"{label}the token endpoint answered {reply.status} {body.get('error') or ''}".rstrip()
                   + f", expected {' or '.join(map(str, status))} with error {' or '.join(errors)}", reply.exchange)


def iso(instant: datetime) -> str:
    """Whole seconds: what a partner's server must accept at the least."""
    return format_rfc3339(instant, digits=0)


def parse_time(text: Any) -> datetime | None:
    """The instant `text` names, or None when it is not an RFC 3339 date-time with an offset."""
    try:
        return parse_rfc3339(text)
    except ValueError:
        return None


def sort_key(record: dict) -> tuple[datetime, str]:
    stamp = parse_time(record.get("updated_at"))
    if stamp is None:
        raise Fail(f"record {record.get('id')!r} has no RFC 3339 updated_at ({record.get('updated_at')!r})")
    return stamp, str(record.get("id"))


def contact_view(ctx, token: str, contact_id: str) -> dict:
    """The contact as AgentBuddy's own UI would read it: GET /v1/contacts/{id}."""
    _, body = ctx.get_json(f"/v1/contacts/{contact_id}", token)
    return body


def campaign(contact: dict, campaign_id: str) -> dict | None:
    return next((c for c in contact.get("campaigns") or [] if isinstance(c, dict) and c.get("id") == campaign_id), None)


def foreign_contact(ctx, other_token: str) -> str:
    """A contact of the second account (what this account's credentials must never reach)."""
    _, page = ctx.get_json("/v1/contacts", other_token, per_page=1)
    if not page.get("data"):
        raise Skip("the second account lists no contact")
    return page["data"][0]["id"]
