"""The scenario simulator: Broadcast's email platform and its readers, on a simulated clock.

Rooms, along the data (see docs/ARCHITECTURE.md), each importing only those before it:

* `story/` — a scenario file read and validated into frozen values (the library: `library/`);
* `people/` — how each person reacts to the mail, the seeded populations, Resend's payloads;
* `verdicts/` — observations judged: checks, the result document, the evaluation's figures;
* `views/` — results for people: console tables, a person's story, progress, the HTML report;
* `engine/` — a story played through the real integration and the fake, on a stack of its own
  (`replay`) or on a running one (`Story`);
* `cli.py` — `ab-harness replay`, `evaluate` and `generate`.

`processes.py` shares work between processes for the engine and the evaluation alike.
"""
