"""Clock-aware Standard Webhooks verification, checked against the reference library's signatures."""
import base64
from datetime import datetime, timedelta, timezone

import pytest
from standardwebhooks import Webhook

from common.webhooks import WebhookError, signed_headers, verify

SECRET = "whsec_" + base64.b64encode(b"a" * 24).decode()
OTHER = "whsec_" + base64.b64encode(b"b" * 24).decode()
NOW = datetime(2026, 1, 15, 14, 30, tzinfo=timezone.utc)
BODY = '{"event_type":"email.opened"}'


def reference_headers(secret=SECRET, when=NOW, body=BODY, msg_id="msg_1"):
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, when, body)}


def test_a_reference_signature_verifies_against_the_injected_clock():
    verified = verify(BODY.encode(), reference_headers(), SECRET, now=NOW + timedelta(seconds=299))
    assert verified.message_id == "msg_1" and verified.secret == SECRET
    assert verified.timestamp == NOW and verified.skew_seconds == -299


def test_the_matching_secret_is_found_among_several():
    assert verify(BODY, reference_headers(OTHER), [SECRET, OTHER], now=NOW).secret == OTHER


def test_svix_headers_are_the_same_scheme():
    headers = {k.replace("webhook-", "svix-"): v for k, v in reference_headers().items()}
    assert verify(BODY, headers, SECRET, now=NOW).message_id == "msg_1"
    assert signed_headers(SECRET, "m", NOW, BODY, prefix="svix")["svix-signature"].startswith("v1,")


def test_our_signed_headers_verify_with_the_reference_library():
    wall = datetime.now(timezone.utc)  # the reference library checks tolerance against the wall clock
    headers = signed_headers(SECRET, "msg_2", wall, BODY)
    assert Webhook(SECRET).verify(BODY, headers) == {"event_type": "email.opened"}
    assert verify(BODY, headers, SECRET, now=wall).message_id == "msg_2"


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_stale_or_future_timestamps_are_refused_after_the_signature_is_checked(skew):
    with pytest.raises(WebhookError) as caught:
        verify(BODY, reference_headers(), SECRET, now=NOW + timedelta(seconds=skew))
    assert caught.value.code == "timestamp_out_of_tolerance" and caught.value.matched == SECRET


@pytest.mark.parametrize("mutate", [
    lambda h: {**h, "webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()},
    lambda h: {**h, "webhook-signature": "v2," + h["webhook-signature"].split(",", 1)[1]},
    lambda h: {**h, "webhook-id": "msg_other"},
    lambda h: {k: v for k, v in h.items() if k != "webhook-signature"},
    lambda h: {**h, "webhook-timestamp": "soon"},
    lambda h: {**h, "webhook-signature": "v1,not base64!"},
])
def test_anything_but_a_matching_signature_is_invalid(mutate):
    with pytest.raises(WebhookError) as caught:
        verify(BODY, mutate(reference_headers()), SECRET, now=NOW)
    assert caught.value.code == "invalid_signature"


def test_a_changed_body_or_wrong_secret_is_invalid_even_when_stale():
    with pytest.raises(WebhookError) as caught:
        verify(BODY + " ", reference_headers(), SECRET, now=NOW + timedelta(days=1))
    assert caught.value.code == "invalid_signature"
    with pytest.raises(WebhookError):
        verify(BODY, reference_headers(), OTHER, now=NOW)


def test_a_body_that_is_not_utf8_is_invalid():
    with pytest.raises(WebhookError):
        verify(b"\xff\xfe", reference_headers(), SECRET, now=NOW)
