"""The story as data: a scenario file read, validated and turned into frozen values.

Owns `model` (the typed scenario), `world` and `crowd` (who is in it, written out or generated
from a seed), `loader` (YAML with line numbers, the JSON Schema in `schema.json`) and
`semantics` (what the schema cannot say). The library of stories lives beside, in
`scenarios/library/`.

May import: `common`, `contract`, and `integration.engagement.content` (a link is valid when
Broadcast's own content rules classify it as the author says). Imports nothing else of
`scenarios`; everything else of `scenarios` imports it.
"""
