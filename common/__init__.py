"""Contract-neutral plumbing that both servers and the simulator share.

What lives here belongs to neither side of the integration: time (an injectable clock and the
one RFC 3339 format), Standard Webhooks signing and verification against that clock, serving a
WSGI app with the project's production server, and the score chart (geometry and SVG; each server
brings its own colours).

May import: the standard library and well-kept third-party packages only — never `contract`,
`mock_agentbuddy`, `integration`, `scenarios` or `harness`. Every room may import it.
"""
