"""Importing Backstage catalog files: entities, paired relations, placeholders, errors and confinement."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from devhub.catalog import service
from devhub.catalog.models import Entity, Relation
from devhub.identity.policy import OPERATOR
from devhub.search.models import SearchDocument
from tests.conftest import FIXTURES

EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


def import_path(db, settings, path: Path, *, trusted: bool = True):
    with db.session() as session:
        location, report = service.register_location(session, settings, str(path), "file", trusted=trusted)
        errors = service.location_errors(session, location.id)
        return location, report, errors


def refs(db) -> set[str]:
    with db.session() as session:
        return set(session.scalars(select(Entity.ref)))


def relation_triples(db) -> set[tuple[str, str, str]]:
    with db.session() as session:
        rows = session.execute(select(Relation.source_ref, Relation.type, Relation.target_ref))
        return {tuple(row) for row in rows}


def test_org_imports_every_entity_with_relations_stored_both_ways(db, settings):
    _, report, _ = import_path(db, settings, FIXTURES / "org" / "catalog-info.yaml")

    assert refs(db) == set(EXPECTED["entities"])
    assert report.added == len(EXPECTED["entities"])
    stored = relation_triples(db)
    for source, relation, target in EXPECTED["relations"]:
        assert (source, relation, target) in stored, f"missing {source} {relation} {target}"
    assert {t for t in stored if t[0] in EXPECTED["entities"]} == {tuple(t) for t in EXPECTED["relations"]}


def test_relations_are_queryable_from_both_ends(db, settings):
    import_path(db, settings, FIXTURES / "org" / "catalog-info.yaml")
    with db.session() as session:
        team = service.relations_of(session, "group:default/payments", OPERATOR)
        api = service.relations_of(session, "api:default/payments-api", OPERATOR)

    assert "component:default/payments-service" in [r.ref for r in team.of("ownerOf")]
    assert [r.ref for r in team.of("hasMember")] == ["user:default/bob"]
    assert [r.ref for r in api.of("apiProvidedBy")] == ["component:default/payments-service"]
    assert [r.ref for r in api.of("apiConsumedBy")] == ["component:default/ledger"]
    assert all(r.entity is not None for r in api.of("apiProvidedBy", "apiConsumedBy", "ownedBy"))


def test_bad_file_gives_one_error_per_bad_entity_and_its_valid_sibling_still_imports(db, settings):
    location, _, errors = import_path(db, settings, FIXTURES / "org" / "catalog-info.yaml")

    bad = [(Path(e.source).name, e.line, e.rule) for e in errors]
    assert bad == [("bad.yaml", 20, "invalid-name"), ("bad.yaml", 31, "missing-field")]
    assert "spec.owner" in errors[1].message
    assert "Bad Name!" in errors[0].message
    assert "component:default/good-sibling" in refs(db)
    assert location.status == "error"
    assert location.error_count == 2


def test_placeholders_are_resolved_relative_to_their_file(db, settings):
    import_path(db, settings, FIXTURES / "org" / "catalog-info.yaml")
    with db.session() as session:
        payments = service.get_entity(session, "api", "default", "payments-api")
        events = service.get_entity(session, "api", "default", "ledger-events")
        schema = service.get_entity(session, "api", "default", "ledger-schema")

    assert "Payments API" in payments.body["spec"]["definition"]
    assert isinstance(events.body["spec"]["definition"], dict | str)
    assert "asyncapi" in json.dumps(events.body["spec"]["definition"])
    assert json.dumps(schema.body["spec"]["definition"]).startswith(("{", '"'))


def test_every_entity_records_where_it_came_from(db, settings):
    location, _, _ = import_path(db, settings, FIXTURES / "org" / "catalog-info.yaml")
    with db.session() as session:
        entity = service.get_entity(session, "component", "default", "payments-service")

    assert entity.location_id == location.id
    assert entity.source.endswith("org/services/payments/catalog-info.yaml")
    assert entity.source_line >= 1
    annotations = entity.body["metadata"]["annotations"]
    assert annotations["backstage.io/managed-by-location"].endswith("services/payments/catalog-info.yaml")
    assert annotations["backstage.io/managed-by-origin-location"] == f"file:{location.target}"


def test_reads_never_leave_the_imported_tree(db, settings):
    _, _, errors = import_path(db, settings, FIXTURES / "escape" / "catalog-info.yaml")

    rules = sorted(e.rule for e in errors)
    assert rules == ["location-escape", "placeholder"]
    assert "api:default/passwd-api" not in refs(db)
    assert "user:default/alice" not in refs(db)  # ../org/teams.yaml was not read
    with db.session() as session:
        bodies = json.dumps([e.body for e in session.scalars(select(Entity))])
    assert "root:" not in bodies


def test_unknown_kinds_are_kept_with_their_owner(db, settings):
    import_path(db, settings, FIXTURES / "unknown" / "catalog-info.yaml")
    with db.session() as session:
        widget = service.get_entity(session, "widget", "default", "spinner")
    assert widget.kind == "Widget"
    assert ("widget:default/spinner", "ownedBy", "group:default/platform") in relation_triples(db)


@pytest.fixture
def org_copy(tmp_path: Path) -> Path:
    target = tmp_path / "org"
    shutil.copytree(FIXTURES / "org", target)
    return target


def test_refresh_of_an_unchanged_location_rewrites_nothing(db, settings, org_copy):
    location, first, _ = import_path(db, settings, org_copy / "catalog-info.yaml")
    with db.session() as session:
        before = dict(session.execute(select(Entity.ref, Entity.updated_at)).all())
        report = service.refresh_location(session, settings, service.get_location(session, location.id), trusted=True)
        after = dict(session.execute(select(Entity.ref, Entity.updated_at)).all())

    assert (report.added, report.updated, report.removed) == (0, 0, 0)
    assert report.unchanged == first.added
    assert before == after


def test_entity_removed_from_its_file_leaves_the_catalog_with_its_relations(db, settings, org_copy):
    location, _, _ = import_path(db, settings, org_copy / "catalog-info.yaml")
    teams = org_copy / "teams.yaml"
    documents = teams.read_text().split("\n---\n")
    kept = [doc for doc in documents if "name: bob" not in doc]
    assert len(kept) == len(documents) - 1
    teams.write_text("\n---\n".join(kept))

    with db.session() as session:
        report = service.refresh_location(session, settings, service.get_location(session, location.id), trusted=True)
        orphans = session.scalar(
            select(func.count()).select_from(SearchDocument).where(SearchDocument.ref == "user:default/bob")
        )

    assert report.removed == 1
    assert "user:default/bob" not in refs(db)
    assert not [t for t in relation_triples(db) if "user:default/bob" in (t[0], t[2]) and t[1] == "memberOf"]
    assert orphans == 0


def test_changed_entity_is_updated_on_refresh(db, settings, org_copy):
    location, _, _ = import_path(db, settings, org_copy / "catalog-info.yaml")
    path = org_copy / "services" / "payments" / "catalog-info.yaml"
    path.write_text(path.read_text().replace("lifecycle: production", "lifecycle: deprecated", 1))

    with db.session() as session:
        report = service.refresh_location(session, settings, service.get_location(session, location.id), trusted=True)
    assert report.updated >= 1
    with db.session() as session:
        lifecycles = set(session.scalars(select(Entity.lifecycle).where(Entity.lifecycle.is_not(None))))
    assert "deprecated" in lifecycles


def test_an_entity_provided_by_another_location_is_a_conflict_not_a_takeover(db, settings, tmp_path):
    first = tmp_path / "a" / "catalog-info.yaml"
    second = tmp_path / "b" / "catalog-info.yaml"
    for path, title in ((first, "First"), (second, "Second")):
        path.parent.mkdir()
        path.write_text(
            "apiVersion: backstage.io/v1alpha1\nkind: Group\n"
            f"metadata:\n  name: shared\n  title: {title}\nspec:\n  type: team\n  children: []\n"
        )
    import_path(db, settings, first)
    _, report, errors = import_path(db, settings, second)

    assert report.added == 0
    assert [e.rule for e in errors] == ["conflict"]
    with db.session() as session:
        assert service.get_entity(session, "group", "default", "shared").title == "First"


def test_deleting_a_location_removes_its_entities(db, settings):
    location, _, _ = import_path(db, settings, FIXTURES / "unknown" / "catalog-info.yaml")
    with db.session() as session:
        service.delete_location(session, location.id)
    assert refs(db) == set()


def test_yaml_alias_bomb_and_deep_nesting_are_refused(db, settings, tmp_path):
    bomb = tmp_path / "bomb" / "catalog-info.yaml"
    bomb.parent.mkdir()
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    bomb.write_text("\n".join(lines) + "\n")
    deep = tmp_path / "deep" / "catalog-info.yaml"
    deep.parent.mkdir()
    deep.write_text("a: " + "[" * 200 + "]" * 200 + "\n")

    _, _, bomb_errors = import_path(db, settings, bomb)
    _, _, deep_errors = import_path(db, settings, deep)
    assert [e.rule for e in bomb_errors] == ["yaml-limit"]
    assert "alias" in bomb_errors[0].message
    assert [e.rule for e in deep_errors] == ["yaml-limit"]


def test_yaml_syntax_error_names_the_line(db, settings, tmp_path):
    path = tmp_path / "broken" / "catalog-info.yaml"
    path.parent.mkdir()
    path.write_text("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: [unclosed\n")
    _, _, errors = import_path(db, settings, path)
    assert [e.rule for e in errors] == ["yaml-syntax"]
    assert errors[0].line is not None and errors[0].line >= 4


def test_git_repository_path_imports_and_stays_confined(db, settings, tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / "org", repo / "catalog")
    git = ["git", "-C", str(repo), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "catalog"], check=True)

    with db.session() as session:
        location, report = service.register_location(
            session, settings, f"git+file://{repo}//catalog/catalog-info.yaml?ref=main", None, trusted=True
        )
    assert location.type == "git"
    assert report.added == len(EXPECTED["entities"])
    with db.session() as session:
        entity = service.get_entity(session, "component", "default", "payments-service")
    assert entity.source == f"file://{repo}/catalog/services/payments/catalog-info.yaml"


def test_missing_location_is_not_registered(db, settings, tmp_path):
    from devhub.problems import Problem

    with pytest.raises(Problem) as caught, db.session() as session:
        service.register_location(session, settings, str(tmp_path / "nope.yaml"), "file", trusted=True)
    assert caught.value.status == 422
    assert "does not exist" in caught.value.detail
    with db.session() as session:
        assert service.list_locations(session, service.PageRequest(1, 10)).total == 0
