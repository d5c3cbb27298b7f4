"""The simulated people and their provider: how each person reacts to the mail Broadcast sends.

Owns `timeline` (a `Person`'s opens, clicks, unsubscribes and complaints as provider events;
the send plan), `generator` (seeded populations streamed for `evaluate` and `generate`, archetypes
as behaviour rules) and `resend` (what Resend would POST for an event, signed as Svix signs).

May import: `scenarios.story`, `common`, the `standardwebhooks` signer. Never the integration or
the fake: the same people drive the engine (through the real integration) and the pure
evaluation (no servers at all).
"""
