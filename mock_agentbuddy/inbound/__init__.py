"""Data from Broadcast, through two doors, landing on the contact.

- `webhooks` — Option A: Standard Webhooks signed with the connection's secret, no bearer token
  (`/v1/webhooks/broadcast/events|propensity|batch`);
- `push`     — Option B: the push API with a `write:engagement` token and an optional
  `Idempotency-Key` (`/v1/contacts/{id}/engagement|propensity|events`, `/v1/engagement/bulk`);
- `arrivals` — what both share: the inbound log (every arrival, accepted or not) and the
  contact lookup;
- `landing`  — the rules by which what arrived changes the contact (last-writer-wins
  propensity, once-per-event_id, forward-only campaign status), without any HTTP in it.

May import: `..api.validation` (the contract's checks), `..oauth` (the guard), `..state`,
`..world`, `..responses`, `common`. Nothing imports `inbound` but the app factory.
"""
