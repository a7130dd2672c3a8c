"""The organisation's ruleset: severities for the built-in rules, custom rules, the publish gate policy.

A YAML file in Spectral's shape (so a `.spectral.yaml` with only `rules:` mostly works as it is):

    extends: spectral:oas            # or [spectral:oas, all] (every rule on) or [spectral:oas, off]
    rules:
      operation-tags: error          # a severity: error, warn, info, hint, off (or true / false)
      operation-id-camel-case:       # a custom rule
        description: operationIds are camelCase
        severity: warn
        given: "$.paths[*][*]"       # JSONPath (RFC 9535, with Spectral's `[*]` over mappings)
        then: {field: operationId, function: casing, functionOptions: {type: camel}}
    gate:
      fail_on: error                 # the level of breaking finding the publish gate refuses
      allow_breaking: false          # true: breaking changes are published (and audited) anyway
      allow_breaking_in_major: true  # a new major version may break
      protected_lifecycles: [stable] # the lifecycles of earlier versions the gate protects
    scorecards:
      lint_threshold: 80

Custom rule functions: truthy, falsy, defined, undefined, pattern (match / notMatch), enumeration (or
enum; values), length (min / max), casing (type: flat, camel, pascal, kebab, cobol, snake, macro).
The YAML is read with the portal's safe loader (limits, no aliases bombs).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devhub.governance.findings import Finding, level_name, pointer

FUNCTIONS = ("truthy", "falsy", "defined", "undefined", "pattern", "enumeration", "enum", "length", "casing")
CASINGS = {
    "flat": r"[a-z][a-z0-9]*",
    "camel": r"[a-z][a-z0-9]*(?:[A-Z0-9][a-z0-9]*)*",
    "pascal": r"[A-Z][a-z0-9]*(?:[A-Z0-9][a-z0-9]*)*",
    "kebab": r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*",
    "cobol": r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*",
    "snake": r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*",
    "macro": r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*",
}


class RulesetError(ValueError):
    """The ruleset file is not valid: the message says where and why."""


@dataclass(frozen=True)
class Check:
    function: str
    target: str | None = None  # the `field` of Spectral's `then`
    options: dict = field(default_factory=dict)


@dataclass
class CustomRule:
    id: str
    level: str
    given: list[str]
    then: list[Check]
    description: str = ""
    message: str | None = None
    _compiled: list = field(default_factory=list, repr=False)

    def run(self, doc: Any) -> list[Finding]:
        import jsonpath

        if not self._compiled:
            self._compiled = [jsonpath.compile(expression) for expression in self.given]
        findings = []
        for query in self._compiled:
            for match in query.finditer(doc):
                parts = tuple(match.parts)
                for check in self.then:
                    problem = _apply(check, match.obj, parts)
                    if problem is not None:
                        where = parts if check.target in (None, "@key") else (*parts, check.target)
                        text = (self.message or "{{error}}").replace("{{error}}", problem)
                        text = text.replace("{{property}}", str(check.target or (parts[-1] if parts else "")))
                        findings.append(Finding(self.id, self.level, text, pointer(*where), **_operation_of(parts)))
        return findings


def _operation_of(parts: tuple) -> dict:
    from devhub.governance.findings import METHODS

    if len(parts) >= 3 and parts[0] == "paths" and parts[2] in METHODS:
        return {"method": parts[2], "path": parts[1]}
    return {}


def _apply(check: Check, value: Any, parts: tuple) -> str | None:
    """None when the check passes, else what is wrong."""
    name = check.target
    if name == "@key":
        present, target = True, parts[-1] if parts else None
    elif name:
        present = isinstance(value, dict) and name in value
        target = value.get(name) if isinstance(value, dict) else None
    else:
        present, target = True, value
    label = f"`{name}`" if name and name != "@key" else "the value" if name is None else "the key"
    options = check.options
    function = check.function
    if function == "defined":
        return None if present else f"{label} must be defined"
    if function == "undefined":
        return f"{label} must not be defined" if present else None
    if function == "truthy":
        return None if target not in (None, False, "", 0, [], {}) else f"{label} must be set"
    if function == "falsy":
        return f"{label} must not be set" if target not in (None, False, "", 0, [], {}) else None
    if not present or target is None:
        return None  # the other functions only judge values that are there (as Spectral does)
    if function == "pattern":
        text = str(target)
        if "match" in options and not re.search(_js_regex(options["match"]), text):
            return f"{label} {text!r} must match {options['match']}"
        if "notMatch" in options and re.search(_js_regex(options["notMatch"]), text):
            return f"{label} {text!r} must not match {options['notMatch']}"
        return None
    if function in ("enumeration", "enum"):
        values = options.get("values") or []
        return None if target in values else f"{label} {target!r} must be one of {', '.join(map(str, values))}"
    if function == "length":
        size = len(target) if isinstance(target, str | list | dict) else target
        if not isinstance(size, int | float):
            return None
        if "min" in options and size < options["min"]:
            return f"{label} must be at least {options['min']} long"
        if "max" in options and size > options["max"]:
            return f"{label} must be at most {options['max']} long"
        return None
    if function == "casing":
        if not isinstance(target, str):
            return None
        casing = options.get("type", "camel")
        regex = CASINGS[casing]
        if options.get("disallowDigits"):
            regex = regex.replace("0-9", "")
        return None if re.fullmatch(regex, target) else f"{label} {target!r} must be {casing} case"
    return None


def _js_regex(text: str) -> str:
    """Spectral accepts `/regex/flags` as well as a bare regex."""
    if len(text) > 1 and text.startswith("/") and text.rfind("/") > 0:
        body, flags = text[1 : text.rfind("/")], text[text.rfind("/") + 1 :]
        return f"(?i){body}" if "i" in flags else body
    return text


@dataclass
class GatePolicy:
    fail_on: str = "error"
    allow_breaking: bool = False
    allow_breaking_in_major: bool = True
    protected_lifecycles: tuple[str, ...] = ("stable",)


@dataclass
class Ruleset:
    base: str = "recommended"  # recommended | all | off
    overrides: dict[str, str | None] = field(default_factory=dict)
    custom: list[CustomRule] = field(default_factory=list)
    gate: GatePolicy = field(default_factory=GatePolicy)
    lint_threshold: int = 80
    source: str = "built-in"
    text: str = ""

    @property
    def hash(self) -> str:
        return hashlib.sha256((self.text or "built-in").encode()).hexdigest()

    def level_of(self, rule_id: str) -> str | None:
        from devhub.governance.lint import RULES

        rule = RULES.get(rule_id)
        if rule_id in self.overrides:
            level = self.overrides[rule_id]
            return (rule.level if rule else "warning") if level == "default" else level
        if rule is None or self.base == "off" or (self.base == "recommended" and not rule.recommended):
            return None
        return rule.level

    def run_custom(self, doc: Any) -> list[Finding]:
        findings: list[Finding] = []
        for rule in self.custom:
            if self.overrides.get(rule.id, rule.level) is not None:
                findings.extend(rule.run(doc))
        return findings

    def describe(self) -> list[dict[str, Any]]:
        """Every rule with its effective level, for the docs and the API."""
        from devhub.governance.lint import RULES

        rows = [
            {
                "id": r.id,
                "level": self.level_of(r.id) or "off",
                "description": r.description,
                "formats": list(r.formats),
                "custom": False,
            }
            for r in RULES.values()
        ]
        rows += [
            {"id": c.id, "level": c.level, "description": c.description, "formats": ["any"], "custom": True}
            for c in self.custom
        ]
        return rows


DEFAULT_RULESET = Ruleset()


def parse_ruleset(text: str, source: str = "ruleset") -> Ruleset:
    from devhub.yamlload import YamlError

    try:
        from devhub.specs.limits import Limits
        from devhub.specs.parse import parse_source

        data = parse_source(source if source.endswith((".yaml", ".yml", ".json")) else "ruleset.yaml", text, Limits())
        raw = data.data
    except (YamlError, ValueError) as exc:
        raise RulesetError(f"{source}: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise RulesetError(f"{source}: a ruleset is a mapping with extends, rules, gate and scorecards")
    ruleset = Ruleset(source=source, text=json.dumps(raw, sort_keys=True, default=str))
    extends = raw.get("extends", "spectral:oas")
    items = extends if isinstance(extends, list) else [extends]
    for item in items:
        if isinstance(item, list) and len(item) == 2:
            mode = str(item[1])
            if mode not in ("recommended", "all", "off"):
                raise RulesetError(f"{source}: extends mode {mode!r} is not recommended, all or off")
            ruleset.base = mode
    for rule_id, value in (raw.get("rules") or {}).items():
        rule_id = str(rule_id)
        if isinstance(value, dict):
            ruleset.custom.append(_custom(rule_id, value, source))
            continue
        try:
            ruleset.overrides[rule_id] = level_name(value)
        except ValueError as exc:
            raise RulesetError(f"{source}: rules.{rule_id}: {exc}") from None
    gate = raw.get("gate") or {}
    if not isinstance(gate, dict):
        raise RulesetError(f"{source}: gate must be a mapping")
    fail_on = level_name(gate.get("fail_on", "error"))
    if fail_on not in ("error", "warning", "info"):
        raise RulesetError(f"{source}: gate.fail_on is error, warning or info")
    ruleset.gate = GatePolicy(
        fail_on=fail_on,
        allow_breaking=bool(gate.get("allow_breaking", False)),
        allow_breaking_in_major=bool(gate.get("allow_breaking_in_major", True)),
        protected_lifecycles=tuple(gate.get("protected_lifecycles") or ("stable",)),
    )
    threshold = (raw.get("scorecards") or {}).get("lint_threshold", 80)
    if not isinstance(threshold, int) or not 0 <= threshold <= 100:
        raise RulesetError(f"{source}: scorecards.lint_threshold is a number from 0 to 100")
    ruleset.lint_threshold = threshold
    return ruleset


def _custom(rule_id: str, value: dict, source: str) -> CustomRule:
    import jsonpath

    where = f"{source}: rules.{rule_id}"
    given = value.get("given")
    given_list = given if isinstance(given, list) else [given]
    if not given_list or not all(isinstance(g, str) and g.startswith("$") for g in given_list):
        raise RulesetError(f"{where}: given is a JSONPath starting with $ (or a list of them)")
    for expression in given_list:
        try:
            jsonpath.compile(expression)
        except Exception as exc:  # the library raises several kinds of syntax errors
            raise RulesetError(f"{where}: given {expression!r} is not valid JSONPath: {exc}") from None
    then = value.get("then")
    checks = []
    for item in then if isinstance(then, list) else [then]:
        if not isinstance(item, dict) or item.get("function") not in FUNCTIONS:
            raise RulesetError(f"{where}: then.function is one of {', '.join(FUNCTIONS)}")
        options = item.get("functionOptions") or {}
        if item["function"] == "casing" and options.get("type", "camel") not in CASINGS:
            raise RulesetError(f"{where}: casing type is one of {', '.join(CASINGS)}")
        if item["function"] == "pattern":
            for key in ("match", "notMatch"):
                if key in options:
                    try:
                        re.compile(_js_regex(str(options[key])))
                    except re.error as exc:
                        raise RulesetError(f"{where}: {key} is not a valid regex: {exc}") from None
        checks.append(Check(item["function"], item.get("field"), dict(options)))
    try:
        level = level_name(value.get("severity", "warn"))
    except ValueError as exc:
        raise RulesetError(f"{where}: {exc}") from None
    return CustomRule(
        rule_id,
        "warning" if level in (None, "default") else level,
        given_list,
        checks,
        description=str(value.get("description") or ""),
        message=value.get("message"),
    )


def load_ruleset(path: str | Path | None) -> Ruleset:
    """The ruleset in a file, or the built-in one when `path` is None."""
    if not path:
        return DEFAULT_RULESET
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesetError(f"{file}: cannot be read: {exc.strerror or exc}") from None
    return parse_ruleset(text, str(file))


def from_settings(settings: Any) -> Ruleset:
    return load_ruleset(getattr(settings, "governance_ruleset", None) if settings is not None else None)
