"""Conformance kits: named, versioned suites of checks a partner runs against its own server.

`ab-harness verify agentbuddy --url URL` runs the provider suite (`agentbuddy-provider`)
against any AgentBuddy, the fake or a real sandbox, over HTTP only. The flow of one run:

    cli  ->  target (credentials, capabilities, the state hook or the fake's admin API)
         ->  runner (each selected check, in order, isolated from the others)
         ->  checks/<area>.py (one function per check, each citing the clause it enforces)
         ->  reports (terminal table, JSON, JUnit XML, self-contained HTML)

A check talks to the server through `probe.Probe`, which records every exchange so a failure
carries its evidence. Nothing here imports the fake or the integration: the kit knows only the
contract (`openapi/agentbuddy.yaml`) and the standards it cites.
"""
from __future__ import annotations

SUITE_NAME = "agentbuddy-provider"
SUITE_VERSION = "1.0.0"
