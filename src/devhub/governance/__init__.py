"""Governance: lint rules, breaking-change detection, changelogs, the publish gate, deprecations and scorecards."""
