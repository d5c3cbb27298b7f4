"""The back door (`/__admin/`, WireMock-style, not part of the contract) and its one client.

- `views`  — the admin blueprint: world, export, records, journal, inbound, reset, faults,
             clock, mutate;
- `inputs` — every admin body and query parameter checked, each mistake a named field;
- `client` — `AdminClient`, the Python client of the whole admin API, shared by the tests,
             the simulator and the conformance kits. It imports only `requests` and `common`.

May import: `..state`, `..world`, `..oauth` (to forget tokens on reset), `..responses`,
`..config`, `common`. `client` imports nothing of the fake.
"""
