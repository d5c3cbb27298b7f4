"""Every JSON sample in the draft spec is a valid message of the contract, and is attached to it.

The samples are read from the shared spec at test time, so the contract cannot drift from them:
if the spec gains, loses or changes a sample, these tests fail until the contract follows.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

pytestmark = pytest.mark.filterwarnings("ignore:Unsupported scheme type:UserWarning")

from contract import spec_path
from harness.contract.lint import validator_for

BASE = "http://127.0.0.1:8800"


@dataclass(frozen=True)
class Target:
    """Where a sample lives in the contract: the operation that receives or returns it."""

    path: str
    method: str
    status: str | None  # None: the request body; else the response status
    example: str  # the name under the media type's `examples`

    def media_pointer(self) -> str:
        escaped = self.path.replace("~", "~0").replace("/", "~1")
        where = "requestBody" if self.status is None else f"responses/{self.status}"
        return f"/paths/{escaped}/{self.method}/{where}/content/application~1json"


# label (the block's `//` comment, else its heading) -> where the sample belongs
SAMPLE_TARGETS: dict[str, Target] = {
    "Example: Email Event Webhook": Target("/webhooks/broadcast/events", "post", None, "spec73"),
    "Example: Propensity Score Update": Target("/webhooks/broadcast/propensity", "post", None, "spec73"),
    "GET /contacts": Target("/contacts", "get", "200", "appendixB"),
    "Webhook Payload We'd Send": Target("/webhooks/broadcast/batch", "post", None, "appendixB"),
}
WEBHOOK_HEADERS = {"webhook-id": "msg_2nWQ7v", "webhook-timestamp": "1768487400",
                   "webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="}
RATE_LIMIT = {"RateLimit-Policy": '"default";q=600;w=60', "RateLimit": '"default";r=598;t=37'}


def _sample(spec_samples, label):
    matches = [s for s in spec_samples if s.label == label]
    assert len(matches) == 1, f"expected one sample labelled {label!r}, found {len(matches)}"
    return matches[0]


def _media(contract, target: Target) -> dict:
    node = contract
    for token in target.media_pointer().lstrip("/").split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_sample_in_the_spec_is_mapped(spec_samples):
    labels = [s.label for s in spec_samples]
    unmapped = sorted(set(labels) - set(SAMPLE_TARGETS))
    missing = sorted(set(SAMPLE_TARGETS) - set(labels))
    assert not unmapped, f"new JSON sample(s) in the spec; map them in SAMPLE_TARGETS: {unmapped}"
    assert not missing, f"sample(s) gone from the spec; update SAMPLE_TARGETS: {missing}"
    assert len(labels) == len(set(labels)), "two samples share a label; make the mapping unambiguous"


@pytest.mark.parametrize("label", SAMPLE_TARGETS)
def test_sample_validates_against_its_schema(contract, spec_samples, label):
    target = SAMPLE_TARGETS[label]
    validator = validator_for(contract, target.media_pointer() + "/schema")
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(_sample(spec_samples, label).value)]
    assert errors == []


@pytest.mark.parametrize("label", SAMPLE_TARGETS)
def test_sample_is_attached_to_the_contract_unchanged(contract, spec_samples, label):
    target = SAMPLE_TARGETS[label]
    examples = _media(contract, target)["examples"]
    assert examples[target.example]["value"] == _sample(spec_samples, label).value


@pytest.mark.parametrize("label", ["Example: Email Event Webhook", "Example: Propensity Score Update"])
def test_sample_request_line_names_the_receiving_path(spec_samples, label):
    sample = _sample(spec_samples, label)
    assert sample.request_line, "the spec's webhook samples start with their POST line"
    method, url = sample.request_line.split()
    assert method.lower() == SAMPLE_TARGETS[label].method
    assert urlsplit(url).path == SAMPLE_TARGETS[label].path


@pytest.fixture(scope="module")
def core() -> OpenAPI:
    from openapi_core import Config

    return OpenAPI.from_file_path(
        str(spec_path()), config=Config(extra_media_type_deserializers={"application/problem+json": json.loads}))


@pytest.mark.parametrize("label", SAMPLE_TARGETS)
def test_sample_passes_openapi_core_as_the_fake_sees_it(core, spec_samples, label):
    """The fake validates with openapi-core, so the samples must pass there too, not just in jsonschema."""
    target = SAMPLE_TARGETS[label]
    body = json.dumps(_sample(spec_samples, label).value).encode()
    if target.status is None:
        request = MockRequest(BASE, target.method, "/v1" + target.path, headers=WEBHOOK_HEADERS,
                              data=body, content_type="application/json")
        assert core.unmarshal_request(request).errors == []
    else:
        request = MockRequest(BASE, target.method, "/v1" + target.path)
        response = MockResponse(body, status_code=int(target.status), headers=RATE_LIMIT, content_type="application/json")
        assert core.unmarshal_response(request, response).errors == []


def test_bulk_push_takes_the_batch_webhooks_data(contract, spec_samples):
    batch = _sample(spec_samples, "Webhook Payload We'd Send").value
    bulk = _media(contract, Target("/engagement/bulk", "post", None, "appendixB"))
    assert bulk["examples"]["appendixB"]["value"] == batch["data"]
    errors = list(validator_for(contract, "/components/schemas/BatchData").iter_errors(batch["data"]))
    assert errors == []


# ------------------------------------------------------------------ every response of every operation
def _response_media(contract):
    """(operation, status, media type, media object) for every response with a body ($refs followed)."""
    from harness.contract.lint import iter_operations, resolve

    for op in iter_operations(contract):
        for status, response in (op.node.get("responses") or {}).items():
            for media_type, media in (resolve(contract, response).get("content") or {}).items():
                yield op.label, str(status), media_type, media


def _operation_labels(contract_file=None):
    import yaml

    with open(spec_path(), encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)
    return sorted({label for label, *_ in _response_media(spec)})


@pytest.mark.parametrize("operation", _operation_labels())
def test_every_response_with_a_body_carries_a_valid_example(contract, operation):
    """Success and error alike: a partner reads a sample of every answer, and every sample is true.

    Responses without a body (204, a webhook receiver's 2xx) have nothing to exemplify.
    """
    media_of_op = [(status, media_type, media) for label, status, media_type, media in _response_media(contract)
                   if label == operation]
    assert media_of_op, operation
    for status, media_type, media in media_of_op:
        examples = [e["value"] for e in (media.get("examples") or {}).values()] + \
                   ([media["example"]] if "example" in media else [])
        assert examples, f"{operation} {status} {media_type} has no example"
        schema_ref = media["schema"]["$ref"]
        validator = validator_for(contract, schema_ref[1:])
        for value in examples:
            errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)]
            assert errors == [], f"{operation} {status}: {errors}"


def test_every_problem_example_points_at_its_catalogue_entry(contract):
    for label, status, media_type, media in _response_media(contract):
        for example in (media.get("examples") or {}).values():
            value = example["value"]
            if media_type == "application/problem+json":
                assert value["type"] == f"https://agentbuddy.example/docs/errors.html#{value['code']}", (label, status)
                assert str(value["status"]) == status, (label, status)
