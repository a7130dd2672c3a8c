"""Backstage's validation rules and reference parsing, usable without a database."""

from __future__ import annotations

import pytest

from devhub.catalog.kinds import (
    RefError,
    is_valid_api_version,
    is_valid_label_key,
    is_valid_object_name,
    is_valid_tag,
    parse_ref,
    validate_entity,
)


@pytest.mark.parametrize("name", ["a", "payments-api", "Payments_API.v2", "x" * 63, "a--b"])
def test_valid_names(name):
    assert is_valid_object_name(name)


@pytest.mark.parametrize("name", ["", "-a", "a-", "a b", "x" * 64, "ä", "a/b"])
def test_invalid_names(name):
    assert not is_valid_object_name(name)


@pytest.mark.parametrize(
    ("tag", "ok"),
    [
        ("java", True),
        ("c++", True),
        ("a:b", True),
        ("c#", True),
        ("a-b", True),
        ("Java", False),
        ("a--b", False),
        ("-a", False),
        ("a_b", False),
        ("", False),
    ],
)
def test_tags(tag, ok):
    assert is_valid_tag(tag) is ok


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("backstage.io/techdocs-ref", True),
        ("simple", True),
        ("Bad.Host/x", False),
        ("a/b/c", False),
        ("example.com/", False),
    ],
)
def test_label_and_annotation_keys(key, ok):
    assert is_valid_label_key(key) is ok


def test_api_versions():
    assert is_valid_api_version("backstage.io/v1alpha1")
    assert is_valid_api_version("v1")
    assert not is_valid_api_version("backstage.io/v1-alpha")
    assert not is_valid_api_version("a/b/c")


def test_refs_take_the_field_default_kind_and_the_entity_namespace():
    assert str(parse_ref("payments", default_kind="group")) == "group:default/payments"
    assert str(parse_ref("Group:Ops/Payments", default_kind="user")) == "group:ops/payments"
    assert str(parse_ref("ops/payments", default_kind="group", default_namespace="x")) == "group:ops/payments"
    assert str(parse_ref("db", default_kind="resource", default_namespace="team-a")) == "resource:team-a/db"
    with pytest.raises(RefError, match="explicit kind"):
        parse_ref("db")
    with pytest.raises(RefError):
        parse_ref("group:bad name")


def component(**spec_overrides):
    spec = {"type": "service", "lifecycle": "production", "owner": "team-a", **spec_overrides}
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "svc", "namespace": "shop"},
        "spec": spec,
    }


def test_relations_default_to_the_entity_namespace():
    entity = validate_entity(component(providesApis=["orders"], dependsOn=["resource:default/db"]))
    assert ("component:shop/svc", "ownedBy", "group:shop/team-a") in entity.relations
    assert ("group:shop/team-a", "ownerOf", "component:shop/svc") in entity.relations
    assert ("api:shop/orders", "apiProvidedBy", "component:shop/svc") in entity.relations
    assert ("resource:default/db", "dependencyOf", "component:shop/svc") in entity.relations


def test_each_problem_names_its_rule_and_field():
    problems = validate_entity(component(owner=None, dependsOn=["db"]) | {"metadata": {"name": "ok", "tags": ["X"]}})
    assert {(p.rule, p.path) for p in problems} == {("invalid-tag", ("metadata", "tags", 0))}
    problems = validate_entity(component(dependsOn=["db"]))
    assert [(p.rule, p.path) for p in problems] == [("invalid-ref", ("spec", "dependsOn", 0))]
    problems = validate_entity(
        {"apiVersion": "backstage.io/v1alpha1", "kind": "Group", "metadata": {"name": "g"}, "spec": {"type": "team"}}
    )
    assert [(p.rule, p.path) for p in problems] == [("missing-field", ("spec", "children"))]
    assert validate_entity(["not", "a", "mapping"])[0].rule == "invalid-document"
