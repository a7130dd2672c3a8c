"""Reports of findings for people and CI: text, JSON, markdown (a pull-request comment) and JUnit XML;
and the changelog of a new version, written from its diff findings."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any
from xml.etree import ElementTree as ET

from devhub.governance.findings import LEVELS, Finding, counts

FORMATS = ("text", "json", "markdown", "junit")
_ICON = {"error": "🛑", "warning": "⚠️", "info": "🔵", "hint": "💡"}


def render(
    kind: str, findings: list[Finding], fmt: str, *, title: str, extra: dict[str, Any] | None = None, passed: bool
) -> str:
    """`kind` is lint or diff; `extra` goes into the JSON (score, versions) and the headings."""
    extra = extra or {}
    if fmt == "json":
        body = {"kind": kind, "title": title, "passed": passed, **extra, "counts": counts(findings)}
        body["findings"] = [f.to_dict() for f in findings]
        return json.dumps(body, indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return _markdown(kind, findings, title, extra, passed)
    if fmt == "junit":
        return _junit(kind, findings, title)
    return _text(findings, title, extra, passed)


def _summary(findings: list[Finding]) -> str:
    tally = counts(findings)
    return ", ".join(f"{tally[level]} {level}{'s' if tally[level] != 1 else ''}" for level in LEVELS[:3])


def _text(findings: list[Finding], title: str, extra: dict, passed: bool) -> str:
    lines = [title]
    for finding in findings:
        lines.append(f"{finding.where()}: {finding.level} [{finding.rule}] {finding.message}")
    tail = _summary(findings)
    if "score" in extra:
        tail += f"; score {extra['score']}/100"
    lines.append(f"{'passed' if passed else 'FAILED'}: {tail}")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown(kind: str, findings: list[Finding], title: str, extra: dict, passed: bool) -> str:
    status = "✅ passed" if passed else "❌ failed"
    parts = [f"### {_md(title)}: {status}", ""]
    summary = _summary(findings)
    if "score" in extra:
        summary += f" · score **{extra['score']}/100**"
    parts.append(summary)
    if findings:
        parts += ["", "| level | rule | where | message |", "|---|---|---|---|"]
        for f in findings[:500]:
            where = f"`{_md(f.pointer or '/')}`" + (f" (line {f.line})" if f.line else "")
            parts.append(f"| {_ICON.get(f.level, '')} {f.level} | `{f.rule}` | {where} | {_md(f.message)} |")
        if len(findings) > 500:
            parts.append(f"\n… and {len(findings) - 500} more.")
    return "\n".join(parts) + "\n"


def _junit(kind: str, findings: list[Finding], title: str) -> str:
    """One test suite, one test case per rule: a rule with errors or warnings fails, with each finding."""
    by_rule: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_rule[finding.rule].append(finding)
    failing = sum(1 for items in by_rule.values() if any(f.level in ("error", "warning") for f in items))
    suites = ET.Element("testsuites", name=f"devhub {kind}", tests=str(max(1, len(by_rule))), failures=str(failing))
    suite = ET.SubElement(
        suites, "testsuite", name=title, tests=str(max(1, len(by_rule))), failures=str(failing), errors="0"
    )
    if not by_rule:
        ET.SubElement(suite, "testcase", classname=f"devhub.{kind}", name="no findings")
    for rule, items in sorted(by_rule.items()):
        case = ET.SubElement(suite, "testcase", classname=f"devhub.{kind}", name=rule)
        text = "\n".join(f"{f.where()}: {f.level}: {f.message}" for f in items)
        if any(f.level in ("error", "warning") for f in items):
            worst = "error" if any(f.level == "error" for f in items) else "warning"
            failure = ET.SubElement(case, "failure", message=f"{len(items)} {worst} finding(s)", type=worst)
            failure.text = text
        else:
            ET.SubElement(case, "system-out").text = text
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


# --- changelog --------------------------------------------------------------------------------------------

_SECTIONS = (("error", "Breaking changes"), ("warning", "Changes that may break clients"), ("info", "Other changes"))


def changelog(findings: list[Finding], *, title: str, old_version: str | None, new_version: str | None) -> str:
    """A markdown changelog: breaking changes first, grouped by operation."""
    head = f"## {title} {new_version or ''}".rstrip()
    lines = [head, ""]
    if old_version:
        lines += [f"Changes since {old_version}.", ""]
    if not findings:
        lines.append("No changes to operations, parameters, bodies, responses or security.")
        return "\n".join(lines) + "\n"
    for level, heading in _SECTIONS:
        chosen = [f for f in findings if f.level == level]
        if not chosen:
            continue
        lines += [f"### {heading}", ""]
        groups: dict[str, list[Finding]] = defaultdict(list)
        for finding in chosen:
            groups[finding.operation or ""].append(finding)
        for operation, items in sorted(groups.items(), key=lambda kv: (kv[0] == "", kv[0])):
            if operation:
                lines.append(f"- `{operation}`")
                lines += [f"  - {_md(f.message)} (`{f.rule}`)" for f in items]
            else:
                lines += [f"- {_md(f.message)} (`{f.rule}`)" for f in items]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
