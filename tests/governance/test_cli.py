"""`devhub lint` and `devhub diff` as CI runs them: exit codes and the four report formats. No database."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from typer.testing import CliRunner

from devhub.cli import app

SPECS = Path(__file__).parent / "specs"
V100, V101, V110 = (str(SPECS / f"pets-{v}.yaml") for v in ("1.0.0", "1.0.1", "1.1.0"))
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_lint_passes_on_warnings_and_fails_on_them_when_asked():
    result = run("lint", V100)
    assert result.exit_code == 0, result.output
    assert "pets-1.0.0.yaml:2 /info: warning [info-contact]" in result.output
    assert run("lint", V100, "--fail-on", "warning").exit_code == 1
    assert run("lint", V100, "--min-score", "99").exit_code == 1


def test_lint_uses_the_organisation_ruleset():
    result = run("lint", V100, "--ruleset", str(SPECS / "org-ruleset.yaml"))
    assert result.exit_code == 1 and "error [operation-tags]" in result.output


def test_unreadable_inputs_exit_2(tmp_path):
    assert run("lint", str(tmp_path / "missing.yaml")).exit_code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: {x: loud}\n")
    assert run("lint", V100, "--ruleset", str(bad)).exit_code == 2
    assert run("diff", V100, str(tmp_path / "missing.yaml")).exit_code == 2
    assert run("lint", V100, "--format", "xml").exit_code == 2


def test_diff_exit_codes():
    breaking = run("diff", V100, V110)
    assert breaking.exit_code == 1
    assert "error [new-required-request-parameter]" in breaking.output
    assert "pets-1.1.0.yaml:9" in breaking.output  # the source line of the new parameter
    assert "semver-breaking-change-in-minor" in breaking.output
    harmless = run("diff", V100, V101)
    assert harmless.exit_code == 0, harmless.output
    assert "info [new-optional-request-parameter]" in harmless.output
    assert run("diff", V100, V101, "--fail-on", "warning").exit_code == 0
    assert run("diff", V100, V110, "--fail-on", "never").exit_code == 0


@pytest.mark.parametrize("command", [("lint", V100, "--fail-on", "warning"), ("diff", V100, V110)])
def test_every_format(command):
    as_json = json.loads(run(*command, "--format", "json").output)
    assert as_json["passed"] is False and as_json["findings"][0]["rule"]
    markdown = run(*command, "--format", "markdown").output
    assert markdown.startswith("### ") and "| level | rule | where | message |" in markdown
    root = ET.fromstring(run(*command, "--format", "junit").output.encode())
    assert root.tag == "testsuites" and int(root.get("failures")) >= 1
    assert root.find("testsuite/testcase/failure") is not None


def test_junit_of_a_clean_diff_has_one_passing_case(tmp_path):
    out = tmp_path / "report.xml"
    assert run("diff", V100, V100, "--format", "junit", "--output", str(out)).exit_code == 0
    root = ET.parse(out).getroot()
    assert root.get("failures") == "0" and root.find("testsuite/testcase") is not None


def test_changelog():
    result = run("diff", V100, V110, "--changelog")
    assert "## Pets 1.1.0" in result.output and "### Breaking changes" in result.output
    assert "`GET /pets/{petId}`" in result.output
