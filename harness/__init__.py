"""The `ab-harness` command line: one entry point that gathers each room's commands.

It composes the rooms (the demo, `make serve`'s stack, fuzzing, benchmarks) and owns the contract's
tooling in `harness/contract/` (lint, docs, diff).

May import: every room. Nothing imports it: the rooms stay usable without the command line.
"""
