"""A run's report in the forms people and machines read: a terminal table grouped by area,
JSON, JUnit XML (what CI systems read) and a self-contained HTML page (to attach to an email).

Every form names the suite and its version, the server and the contract version. The JUnit
file is written with the standard library's ElementTree in the Jenkins/Surefire shape (one
`testsuite` per area, `failure`/`skipped` children); the tests read it back with junitparser,
an independent parser, so the file is checked by something that did not write it.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .model import FAIL, PASS, SKIP, Outcome
from .runner import Report

STYLE = {PASS: "green", FAIL: "bold red", SKIP: "yellow"}


def summary_line(report: Report) -> str:
    return (f"{report.title} against {report.target} (contract {report.contract}): {report.count(PASS)} passed, "
            f"{report.count(FAIL)} failed, {report.count(SKIP)} skipped in {report.seconds:.1f} s")


def by_area(outcomes: list[Outcome]) -> dict[str, list[Outcome]]:
    grouped: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        grouped.setdefault(outcome.check.area, []).append(outcome)
    return grouped


def print_table(report: Report, console: Console) -> None:
    for area, outcomes in by_area(report.outcomes).items():
        table = Table(title=f"{area}", title_justify="left", expand=True, show_lines=False)
        table.add_column("", width=4, no_wrap=True)
        table.add_column("check", no_wrap=True, min_width=max(len(o.check.id) for o in outcomes))
        table.add_column("clause", ratio=1)
        table.add_column("detail", ratio=2)
        for outcome in outcomes:
            table.add_row(Text(outcome.status.upper(), style=STYLE[outcome.status]), outcome.check.id,
                          outcome.check.clause, outcome.detail or outcome.check.title)
        console.print(table)
    failures = [o for o in report.outcomes if o.status == FAIL]
    for outcome in failures:
        console.print(Text(f"\nFAIL {outcome.check.id}", style="bold red"), f"— {outcome.check.title}")
        console.print(f"  {outcome.detail}", markup=False)
        for exchange in outcome.evidence[:2]:
            console.print(f"  {exchange.summary()}", markup=False, style="dim")
    console.print(Text(summary_line(report), style="bold green" if report.passed else "bold red"))


def to_json_text(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2)


def write_junit(report: Report, path: Path) -> None:
    root = ET.Element("testsuites", name=report.title, tests=str(len(report.outcomes)),
                      failures=str(report.count(FAIL)), errors="0", skipped=str(report.count(SKIP)),
                      time=f"{report.seconds:.3f}")
    stamp = report.started.strftime("%Y-%m-%dT%H:%M:%S")
    for area, outcomes in by_area(report.outcomes).items():
        suite = ET.SubElement(root, "testsuite", name=f"{report.suite}.{area}", tests=str(len(outcomes)),
                              failures=str(sum(o.status == FAIL for o in outcomes)), errors="0",
                              skipped=str(sum(o.status == SKIP for o in outcomes)),
                              time=f"{sum(o.seconds for o in outcomes):.3f}", timestamp=stamp,
                              hostname=report.hostname)
        properties = ET.SubElement(suite, "properties")
        for name, value in (("suite", report.suite), ("suite.version", report.version), ("target", report.target),
                            ("contract.version", report.contract)):
            ET.SubElement(properties, "property", name=name, value=value)
        for outcome in outcomes:
            case = ET.SubElement(suite, "testcase", classname=f"{report.suite}.{area}", name=outcome.check.id,
                                 time=f"{outcome.seconds:.3f}")
            if outcome.status == FAIL:
                failure = ET.SubElement(case, "failure", message=outcome.detail, type="ContractViolation")
                failure.text = _failure_text(outcome)
            elif outcome.status == SKIP:
                ET.SubElement(case, "skipped", message=outcome.detail)
            out = ET.SubElement(case, "system-out")
            out.text = f"{outcome.check.title}\nclause: {outcome.check.clause}\n{outcome.detail}".rstrip()
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _failure_text(outcome: Outcome) -> str:
    lines = [outcome.detail, f"clause: {outcome.check.clause}"]
    for exchange in outcome.evidence:
        lines.append(exchange.summary())
        if exchange.response_body:
            lines.append(f"  body: {exchange.response_body[:500]}")
    return "\n".join(lines)


def write_html(report: Report, path: Path) -> None:
    environment = Environment(loader=PackageLoader("conformance"), autoescape=select_autoescape(["html"]))
    page = environment.get_template("report.html").render(
        report=report, areas=by_area(report.outcomes), summary=summary_line(report), PASS=PASS, FAIL=FAIL, SKIP=SKIP)
    path.write_text(page, encoding="utf-8")
