"""Verdicts: what a replay or an evaluation found, judged and written down.

Owns `observations` (what a replay saw, digested for judging), `checks` (each expectation as
named checks with expected and actual values), `results` (the replay's JSON document),
`evaluate` (a seeded population through the integration's pure scoring) and `measures` (the
figures an evaluation reports).

May import: `scenarios.story`, `scenarios.people`, `scenarios.processes`, `contract`, and the
integration's pure `integration.engagement` core (evaluate scores without servers). Never the
engine: the engine hands its observations over.
"""
