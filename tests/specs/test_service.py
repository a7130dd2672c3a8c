"""Publishing versions: immutability, lifecycle, latest, downloads, and definitions from the catalog."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from devhub.catalog import service as catalog_service
from devhub.catalog.models import Entity
from devhub.pagination import PageRequest
from devhub.problems import NotFound, Problem
from devhub.specs import service
from devhub.specs.errors import SpecInvalid
from devhub.specs.limits import Limits
from devhub.specs.models import SpecOperation, SpecVersion
from devhub.specs.parse import parse_source
from tests.specs.conftest import CORPUS

PETSTORE = (CORPUS / "oai" / "petstore.yaml").read_text()


def publish(
    session, text: str = PETSTORE, version: str = "1.0.0", api: str = "petstore", name: str = "petstore.yaml", **kw
):
    return service.publish(
        session,
        api_ref=api,
        version=version,
        main_path=name,
        files={name: text},
        source_kind=kw.pop("source_kind", "cli"),
        source_name=name,
        publisher=kw.pop("publisher", "alice"),
        **kw,
    )


def test_publish_stores_the_version_with_its_operations(db, apis):
    apis("petstore")
    with db.session() as session:
        result = publish(session)
        assert result.status == "created"
    with db.session() as session:
        version = service.get_version(session, "api:default/petstore", "1.0.0", with_documents=True)
        assert (version.format, version.format_version, version.title) == ("openapi", "3.0.0", "Swagger Petstore")
        assert version.original_text == PETSTORE and version.original_files is None
        assert version.bundled["paths"]["/pets"]["get"]["operationId"] == "listPets"
        assert len(version.content_hash) == 64 and version.publisher == "alice" and version.lifecycle == "stable"
        assert version.published_at is not None and version.source_kind == "cli"
        operations = service.operations_of(session, version)
        assert [(o.method, o.path, o.operation_id, o.anchor) for o in operations] == [
            ("get", "/pets", "listPets", "list-pets"),
            ("post", "/pets", "createPets", "create-pets"),
            ("get", "/pets/{petId}", "showPetById", "show-pet-by-id"),
        ]
        assert operations[0].tags == ["pets"] and version.operation_count == 3


def test_republishing_the_same_content_is_a_no_op(db, apis):
    apis("petstore")
    with db.session() as session:
        first = publish(session).version.id
    as_json = json.dumps(yaml.safe_load(PETSTORE))  # same document, other spelling
    with db.session() as session:
        again = publish(session, as_json, name="petstore.json", publisher="bob")
        assert again.status == "unchanged" and again.version.id == first and again.version.publisher == "alice"
        assert session.scalar(select(SpecVersion.id).where(SpecVersion.id != first)) is None


def test_changed_content_under_a_published_version_is_a_409(db, apis):
    apis("petstore")
    with db.session() as session:
        publish(session)
    with db.session() as session, pytest.raises(Problem) as excinfo:
        publish(session, PETSTORE.replace("Swagger Petstore", "Petstore II"))
    assert excinfo.value.status == 409
    assert "immutable" in excinfo.value.detail and "new version" in excinfo.value.detail
    with db.session() as session:
        assert publish(session, PETSTORE.replace("Swagger Petstore", "Petstore II"), version="1.1.0").created


@pytest.mark.parametrize("api", ["petstore", "default/petstore", "api:default/petstore", "API:Default/Petstore"])
def test_api_refs_in_every_spelling(db, apis, api):
    apis("petstore")
    with db.session() as session:
        assert publish(session, api=api).version.api_ref == "api:default/petstore"


def test_the_api_must_be_an_api_in_the_catalog(db, apis):
    apis("petstore")
    with db.session() as session:
        with pytest.raises(NotFound):
            publish(session, api="nope")
        with pytest.raises(Problem) as excinfo:
            publish(session, api="component:default/petstore")
        assert excinfo.value.status == 400


@pytest.mark.parametrize("version", ["", " 1.0", "1.0 beta", "a/b", "..", "x" * 65, "-1", "1?x"])
def test_version_rules(db, apis, version):
    apis("petstore")
    with db.session() as session, pytest.raises(Problem) as excinfo:
        publish(session, version=version)
    assert excinfo.value.status == 422 and "not a valid version" in excinfo.value.detail


def test_invalid_definitions_are_not_stored(db, apis):
    apis("petstore")
    with db.session() as session, pytest.raises(SpecInvalid) as excinfo:
        publish(session, "openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths:\n  /x:\n    get: {}\n")
    problem = excinfo.value.to_problem().to_dict()
    assert problem["status"] == 422
    assert problem["errors"] == [
        {
            "pointer": "/paths/~1x/get",
            "line": 5,
            "message": "'responses' is a required property",
            "file": "petstore.yaml",
        }
    ]
    with db.session() as session:
        assert session.scalar(select(SpecVersion)) is None


def test_lifecycle_latest_and_list(db, apis):
    apis("petstore")
    with db.session() as session:
        publish(session, version="1.0.0")
        publish(session, PETSTORE.replace("1.0.0", "2.0.0"), version="2.0.0", lifecycle="beta")
        publish(session, PETSTORE.replace("1.0.0", "3.0.0"), version="3.0.0", lifecycle="draft")
    with db.session() as session:
        assert service.latest_version(session, "petstore").version == "2.0.0"  # drafts are not the latest
        service.set_lifecycle(session, "petstore", "2.0.0", "retired")
        assert service.get_version(session, "petstore", "2.0.0").sunset_at is not None
        assert service.latest_version(session, "petstore").version == "1.0.0"
        service.set_lifecycle(session, "petstore", "1.0.0", "deprecated")
        assert service.latest_version(session, "petstore").version == "1.0.0"  # deprecated still counts
        page = service.list_versions(session, "petstore", PageRequest(page=1, size=2))
        assert [v.version for v in page.items] == ["3.0.0", "2.0.0"] and page.total == 3
        with pytest.raises(Problem):
            service.set_lifecycle(session, "petstore", "1.0.0", "gone")
        with pytest.raises(NotFound):
            service.get_version(session, "petstore", "9.9.9")
    with db.session() as session:
        for version in ("1.0.0", "3.0.0"):
            service.set_lifecycle(session, "petstore", version, "retired")
        assert service.latest_version(session, "petstore").version == "3.0.0"  # all hidden: the newest
        assert service.latest_version(session, "other") is None


def test_downloads_parse_back_to_the_same_document(db, apis):
    apis("petstore", "tricky")
    tricky = textwrap.dedent(
        """
        openapi: 3.1.0
        info: {title: "Tricky: strings", version: '1', description: "line one\\nline two\\n"}
        paths: {}
        components:
          schemas:
            Flags:
              enum: ['yes', 'no', 'on', '1e3', '0o17', '09', '2024-01-01', 'null', '', ' padded ']
              examples: [1e3, 12, 1.5, true, null]
        """
    ).lstrip()
    with db.session() as session:
        publish(session)
        publish(session, tricky, api="tricky", version="1", name="tricky.yaml")
    with db.session() as session:
        for api, version in (("petstore", "1.0.0"), ("tricky", "1")):
            stored = service.get_version(session, api, version, with_documents=True)
            for bundled in (True, False):
                as_json = json.loads(service.definition_text(stored, bundled=bundled, fmt="json"))
                as_yaml = parse_source("x.yaml", service.definition_text(stored, bundled=bundled, fmt="yaml"), Limits())
                assert as_json == as_yaml.data == stored.bundled
            assert service.definition_text(stored, bundled=False, fmt="yaml") == stored.original_text


SOCIAL = CORPUS / "asyncapi" / "social-media"
SINGLES = sorted(
    p.relative_to(CORPUS).as_posix()
    for p in CORPUS.rglob("*")
    if p.suffix in (".yaml", ".yml", ".json") and "social-media" not in p.parts
)
SOCIAL_MAINS = sorted(p.relative_to(SOCIAL).as_posix() for p in SOCIAL.glob("*/asyncapi.yaml"))


def test_the_corpus_is_all_there():
    assert len(SINGLES) == 54 and len(SOCIAL_MAINS) == 5


BIG = 100_000  # PostgreSQL stores the same JSON as SQLite: its runs skip the big Twilio definitions


@pytest.mark.parametrize("relative", SINGLES)
def test_every_corpus_spec_publishes(db, apis, relative):
    """The figure: every definition of the corpus publishes."""
    path = CORPUS / relative
    if not db.is_sqlite and path.stat().st_size > BIG:
        pytest.skip("big definitions publish on SQLite only: the same JSON is stored on both back-ends")
    apis("corpus")
    with db.session() as session:
        result = publish(session, path.read_text(), api="corpus", name=path.name)
        assert result.created and result.version.operation_count > 0


@pytest.mark.parametrize("main", SOCIAL_MAINS)
def test_every_service_of_the_multi_file_social_media_tree_publishes(db, apis, main):
    apis("social")
    files = {p.relative_to(SOCIAL).as_posix(): p.read_text() for p in SOCIAL.rglob("*.yaml")}
    with db.session() as session:
        result = service.publish(
            session,
            api_ref="social",
            version="1.0.0",
            main_path=main,
            files=files,
            source_kind="cli",
            source_name=main,
            publisher="alice",
        )
        assert result.created and result.version.format_version == "3.1.0"
        stored = service.get_version(session, "social", "1.0.0", with_documents=True)
        assert "common/messages.yaml" in stored.original_files and stored.original_text == files[main]


def test_asyncapi_operations(db, apis):
    apis("events2", "events3")
    v2 = textwrap.dedent(
        """
        asyncapi: 2.6.0
        info: {title: Events, version: '2'}
        channels:
          user/signedup:
            subscribe:
              operationId: onSignup
              summary: A user signed up
              tags: [{name: users}]
              message: {payload: {type: object}}
            publish:
              message: {payload: {type: object}}
        """
    )
    v3 = (CORPUS / "asyncapi" / "streetlights-mqtt-asyncapi.yml").read_text()
    with db.session() as session:
        first = publish(session, v2, api="events2", version="2", name="e.yaml").version
        ops = service.operations_of(session, first)
        assert [(o.method, o.path, o.operation_id, o.anchor, o.tags) for o in ops] == [
            ("subscribe", "user/signedup", "onSignup", "on-signup", ["users"]),
            ("publish", "user/signedup", None, "publish-user-signedup", []),
        ]
        second = publish(session, v3, api="events3", version="1", name="s.yml").version
        ops = service.operations_of(session, second)
        assert (
            ops[0].method,
            ops[0].path,
        ) == ("receive", "smartylighting/streetlights/1/0/event/{streetlightId}/lighting/measured")
        assert ops[0].operation_id == "receiveLightMeasurement"


# --- definitions from the catalog -----------------------------------------------------------------------


def test_demo_catalog_publishes_its_twelve_api_definitions(db, settings):
    from devhub.demo.seed import seed

    with db.session() as session:
        seed(session, settings)
    with db.session() as session:
        apis = session.scalars(select(Entity.ref).where(Entity.kind == "API")).all()
        assert len(apis) == 12
        published = {v.api_ref: v for v in session.scalars(select(SpecVersion))}
        assert set(published) == set(apis)
        assert all(v.source_kind == "catalog" and v.publisher == "catalog" for v in published.values())
        lifecycles = {ref: v.lifecycle for ref, v in published.items()}
        assert lifecycles["api:default/merchant-catalog-api"] == "deprecated"  # spec.lifecycle: deprecated
        assert lifecycles["api:default/merchant-catalog-v2-api"] == "stable"  # production
        assert published["api:default/merchant-catalog-api"].version == "1.0.0"  # info.version
        assert session.scalar(select(SpecOperation.id).limit(1)) is not None
        count = len(published)
    with db.session() as session:  # seeding again changes nothing
        seed(session, settings)
        assert len(session.scalars(select(SpecVersion)).all()) == count


def _catalog(folder: Path, definition: str, *, lifecycle: str = "experimental") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.yaml").write_text(definition)
    (folder / "catalog-info.yaml").write_text(
        yaml.safe_dump_all(
            [
                {
                    "apiVersion": "backstage.io/v1alpha1",
                    "kind": "API",
                    "metadata": {"name": "orders"},
                    "spec": {
                        "type": "openapi",
                        "lifecycle": lifecycle,
                        "owner": "team-a",
                        "definition": {"$text": "./broken.yaml"},
                    },
                },
                {
                    "apiVersion": "backstage.io/v1alpha1",
                    "kind": "API",
                    "metadata": {"name": "inline"},
                    "spec": {
                        "type": "asyncapi",
                        "lifecycle": "production",
                        "owner": "team-a",
                        "definition": "asyncapi: 3.0.0\ninfo: {title: Inline, version: 0.1.0}\n",
                    },
                },
            ]
        )
    )
    return folder / "catalog-info.yaml"


def _written(path: Path, settings):
    from devhub.catalog import ingest

    with ingest.open_location("file", str(path), settings, trusted=True) as (tree, entry):
        return ingest.read_tree(tree, entry, settings, origin="test").entities


def test_catalog_definitions_are_published_and_problems_reported(db, settings, tmp_path):
    path = _catalog(
        tmp_path / "cat", "openapi: 3.0.3\ninfo: {title: Orders, version: 2.1.0}\npaths:\n  /x:\n    get: {}\n"
    )
    written = _written(path, settings)
    with db.session() as session:
        catalog_service.register_location(session, settings, str(path), "file", trusted=True)
    with db.session() as session:
        errors = service.publish_catalog_definitions(session, written)
        (error,) = errors
        assert (error.rule, error.entity_ref, error.line) == ("invalid-definition", "api:default/orders", 1)
        assert "broken.yaml:5 /paths/~1x/get: 'responses' is a required property" in error.message
        inline = service.get_version(session, "inline", "0.1.0")  # the inline definition was published
        assert inline.format == "asyncapi" and inline.lifecycle == "stable"
        assert session.scalar(select(Entity.ref).where(Entity.ref == "api:default/orders")) is not None

    fixed = "openapi: 3.0.3\ninfo: {title: Orders, version: 2.1.0}\npaths: {}\n"
    path = _catalog(tmp_path / "cat", fixed)
    with db.session() as session:
        assert service.publish_catalog_definitions(session, _written(path, settings)) == []
        version = service.get_version(session, "orders", "2.1.0")
        assert version.lifecycle == "beta"  # experimental

    path = _catalog(tmp_path / "cat", fixed.replace("Orders", "Orders II"), lifecycle="deprecated")
    with db.session() as session:
        (conflict,) = service.publish_catalog_definitions(session, _written(path, settings))
        assert conflict.rule == "definition-conflict" and "bump info.version" in conflict.message
    path = _catalog(tmp_path / "cat", fixed, lifecycle="deprecated")
    with db.session() as session:
        assert service.publish_catalog_definitions(session, _written(path, settings)) == []
        assert service.get_version(session, "orders", "2.1.0").lifecycle == "deprecated"  # followed the entity


def test_an_invalid_catalog_definition_is_a_processing_error_of_its_entity(db, settings, tmp_path):
    path = _catalog(
        tmp_path / "cat", "openapi: 3.0.3\ninfo: {title: Orders, version: 2.1.0}\npaths:\n  /x:\n    get: {}\n"
    )
    with db.session() as session:
        _, report = catalog_service.register_location(session, settings, str(path), "file", trusted=True)
        assert report.added == 2  # the entity imports all the same
        errors = catalog_service.entity_errors(session, "api:default/orders")
        assert [e.rule for e in errors] == ["invalid-definition"]
