"""Spectral (`spectral:oas`) and Redocly (`recommended`) find nothing in the contract, and do find real defects."""
from __future__ import annotations

import pytest
import yaml

from contract import spec_path
from harness.contract import node_tools
from harness.contract.lint import external_findings

pytestmark = pytest.mark.skipif(node_tools.why_unavailable() is not None,
                                reason=f"Spectral and Redocly come from npm: {node_tools.why_unavailable()}")


def test_the_contract_has_no_spectral_or_redocly_error_or_warning():
    assert [str(f) for f in external_findings(spec_path())] == []


def test_both_linters_report_a_defect_planted_in_a_copy(contract, tmp_path):
    del contract["info"]["contact"]  # spectral:oas info-contact (warning)
    del contract["info"]["license"]  # redocly recommended info-license (warning)
    contract["components"]["schemas"]["Orphan"] = {"type": "string"}  # unused component (both)
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(contract, sort_keys=False), encoding="utf-8")
    findings = external_findings(broken)
    assert any(f.rule == "spectral" and "info-contact" in f.message for f in findings), findings
    assert any(f.rule == "redocly" and "info-license" in f.message for f in findings), findings
    assert {f.rule for f in findings if "Orphan" in f.message or "unused" in f.message} >= {"redocly"}
