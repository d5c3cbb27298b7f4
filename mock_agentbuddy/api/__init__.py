"""The contract's read API and what stands around every /v1 request.

A request passes, in order: `journal` (starts the clock), `validation` (names the contract
operation, refuses bad bodies: 413/415/400), `ratelimit` (counts it: 429), `faults` (may fail it
on purpose), the OAuth guard (401/403), then the view — `resources` (offices, agents, contacts,
properties: lists through `paging`, and gets) or `subscriptions` (who am I, change-notification
URLs) — whose parameters and body `validation` checks against the contract (`contract`, with
`request_gate` and `compiled_schemas` as its fast paths: a conforming request is vouched for by
validators compiled once per operation, anything else goes to openapi-core for its precise errors). On the way out, faults may spoil the response, the rate
limit adds its headers, strict mode checks the response, and the journal records it.

May import: `..state`, `..world`, `..oauth` (the guard), `..responses`, `..config`, `common`,
`contract`. Never `inbound`, `admin` or `pages` (they import from here: `validation`, `faults`).
"""
