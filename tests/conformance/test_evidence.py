"""Evidence keeps what the server was asked and answered, with credentials masked: a report is
meant to be attached to an email."""
from __future__ import annotations

from conformance.probe import mask, mask_headers


def test_tokens_and_secrets_are_cut_to_a_recognisable_prefix():
    body = ('{"access_token": "AT-0123456789abcdef", "refresh_token":"RT-9876543210", "token_type": "Bearer", '
            '"webhook_signing_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}')

    shown = mask(body)

    assert "0123456789abcdef" not in shown and "9876543210" not in shown and "ILPZIo2LaLaSw" not in shown
    assert '"access_token": "AT-012…"' in shown and '"token_type": "Bearer"' in shown
    assert mask("grant_type=refresh_token&refresh_token=RT-9876543210&code_verifier=abcdefghijklmnop") == \
        "grant_type=refresh_token&refresh_token=RT-987…&code_verifier=abcdef…"


def test_credentials_in_headers_are_masked_and_the_rest_kept():
    shown = mask_headers({"Authorization": "Bearer AT-0123456789abcdef", "Content-Type": "application/json",
                          "webhook-id": "msg_1"})

    assert shown == {"Authorization": "Bearer AT-012…", "Content-Type": "application/json", "webhook-id": "msg_1"}
