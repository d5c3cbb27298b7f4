"""Results for people. Owns the console tables (`console`), a person's story told (`tell`), progress
bars (`progress`), the evaluation's tables (`evaluation`) and the HTML report (`report`).

Everything here reads the JSON result documents (or an `Evaluation`), so a view can be rebuilt
from a stored result and never says more than the result does.

May import: `scenarios.story` (progress needs the scenarios' sizes), `scenarios.verdicts`,
`contract`, `rich`. Never the engine.
"""
