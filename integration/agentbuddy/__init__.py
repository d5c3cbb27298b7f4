"""Talking to AgentBuddy as one of Broadcast's organizations.

Owns: the one retrying HTTP session (`session`: every call's retry policy, in one place), the
read API client (`client`), typed errors (`errors`), OAuth client operations (`oauth`), the
stored connection and the connect flow (`connections`), access tokens and the authorised session
(`tokens`), ending a connection (`disconnect`), change-notification subscriptions
(`subscriptions`) and secrets at rest (`secrets`).

May import: `integration.config`, `integration.storage`, `common`. Imported by `sync`
(reading AgentBuddy), `outbox` (delivering to it) and `web` (the connect pages and the CLI);
it imports none of them.
"""
