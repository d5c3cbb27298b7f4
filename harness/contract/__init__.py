"""Contract tooling: lint (our rules, openapi-spec-validator, Spectral, Redocly), rendered docs, and the diff
that tells a breaking change from an additive one. Nothing here is imported by the servers."""
