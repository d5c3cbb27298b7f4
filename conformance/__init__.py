"""Conformance kits: named, versioned suites of checks a partner runs against its own server.

`ab-harness verify agentbuddy --url URL` runs the provider suite (`agentbuddy-provider`)
against any AgentBuddy, the fake or a real sandbox, over HTTP only. The flow of one run:

    cli  ->  target (credentials, capabilities, the state hook or the fake's admin API)
         ->  runner (each selected check, in order, isolated from the others)
         ->  checks/<area>.py (one function per check, each citing the clause it enforces)
         ->  reports (terminal table, JSON, JUnit XML, self-contained HTML)

A check talks to the server through `probe.Probe`, which records every exchange so a failure
carries its evidence. The provider kit knows only the contract (`openapi/agentbuddy.yaml`), the
standards it cites and, against the fake, the fake's admin client (`AdminClient`, which loads
nothing of the fake); it never imports the integration.

`ab-harness verify broadcast` is the consumer side (`broadcast-consumer`, `consumer.py`): it
serves the fake in verification mode, lets a Broadcast client run its flows against it, and
reports the fake's verdict on that client (`mock_agentbuddy.verdict`) with the same writers.
"""
from __future__ import annotations

SUITE_NAME = "agentbuddy-provider"
SUITE_VERSION = "1.0.0"
CONSUMER_SUITE = "broadcast-consumer"
CONSUMER_VERSION = "1.0.0"
