"""The OpenAPI description of the SCIM resource routes and of the audit log's filters.

Identity providers' tooling and the portal's own catalog entry read this document. The routes share their
plumbing (dependencies that bundle the session, settings and actor; the audit filters as one dependency), so
this pins what each operation declares: moving that plumbing around must not add, drop or reorder a parameter.
"""

from __future__ import annotations

from typing import Any

import pytest

from devhub.settings import Settings

SEARCH = ["filter", "startIndex", "count", "sortBy", "sortOrder", "attributes", "excludedAttributes"]

# (method, path): (operationId, parameters in order as "in:name", whether a SCIM JSON body is described, success)
SCIM_OPERATIONS: dict[tuple[str, str], tuple[str, list[str], bool, str]] = {
    ("get", "/scim/v2/Users"): ("list_users_scim_v2_Users_get", [f"query:{n}" for n in SEARCH], False, "200"),
    ("post", "/scim/v2/Users/.search"): ("search_users_scim_v2_Users__search_post", [], True, "200"),
    ("post", "/scim/v2/Users"): ("create_user_scim_v2_Users_post", [f"query:{n}" for n in SEARCH], True, "201"),
    ("get", "/scim/v2/Users/{user_id}"): (
        "get_user_scim_v2_Users__user_id__get",
        ["path:user_id", *(f"query:{n}" for n in SEARCH)],
        False,
        "200",
    ),
    ("put", "/scim/v2/Users/{user_id}"): (
        "replace_user_scim_v2_Users__user_id__put",
        ["path:user_id", *(f"query:{n}" for n in SEARCH)],
        True,
        "200",
    ),
    ("patch", "/scim/v2/Users/{user_id}"): (
        "patch_user_scim_v2_Users__user_id__patch",
        ["path:user_id", *(f"query:{n}" for n in SEARCH)],
        True,
        "200",
    ),
    ("delete", "/scim/v2/Users/{user_id}"): (
        "delete_user_scim_v2_Users__user_id__delete",
        ["path:user_id"],
        False,
        "204",
    ),
    ("get", "/scim/v2/Groups"): ("list_groups_scim_v2_Groups_get", [f"query:{n}" for n in SEARCH], False, "200"),
    ("post", "/scim/v2/Groups/.search"): ("search_groups_scim_v2_Groups__search_post", [], True, "200"),
    ("post", "/scim/v2/Groups"): ("create_group_scim_v2_Groups_post", [f"query:{n}" for n in SEARCH], True, "201"),
    ("get", "/scim/v2/Groups/{group_id}"): (
        "get_group_scim_v2_Groups__group_id__get",
        ["path:group_id", *(f"query:{n}" for n in SEARCH)],
        False,
        "200",
    ),
    ("put", "/scim/v2/Groups/{group_id}"): (
        "replace_group_scim_v2_Groups__group_id__put",
        ["path:group_id", *(f"query:{n}" for n in SEARCH)],
        True,
        "200",
    ),
    ("patch", "/scim/v2/Groups/{group_id}"): (
        "patch_group_scim_v2_Groups__group_id__patch",
        ["path:group_id", *(f"query:{n}" for n in SEARCH)],
        True,
        "200",
    ),
    ("delete", "/scim/v2/Groups/{group_id}"): (
        "delete_group_scim_v2_Groups__group_id__delete",
        ["path:group_id"],
        False,
        "204",
    ),
    ("get", "/scim/v2/ResourceTypes"): ("resource_types_scim_v2_ResourceTypes_get", [], False, "200"),
    ("get", "/scim/v2/ResourceTypes/{name}"): (
        "resource_type_scim_v2_ResourceTypes__name__get",
        ["path:name"],
        False,
        "200",
    ),
    ("get", "/scim/v2/Schemas"): ("schemas_scim_v2_Schemas_get", [], False, "200"),
    ("get", "/scim/v2/Schemas/{schema_id}"): (
        "schema_scim_v2_Schemas__schema_id__get",
        ["path:schema_id"],
        False,
        "200",
    ),
}


@pytest.fixture(scope="module")
def document(tmp_path_factory) -> dict[str, Any]:
    """The portal's OpenAPI document; building it touches no database, so one back-end is enough."""
    from devhub.app import create_app

    folder = tmp_path_factory.mktemp("openapi")
    settings = Settings(
        data_dir=folder / "data",
        database_url=f"sqlite:///{folder / 'devhub.sqlite3'}",
        secret_key="test-secret",
        scim_token="test-scim-token",
    )
    return create_app(settings, run_background_tasks=False).openapi()


def _parameters(operation: dict[str, Any]) -> list[str]:
    return [f"{p['in']}:{p['name']}" for p in operation.get("parameters", [])]


def test_scim_resource_operations_declare_what_they_always_did(document):
    scim_paths = {
        (method, path) for path, item in document["paths"].items() if path.startswith("/scim/v2/") for method in item
    }
    assert set(SCIM_OPERATIONS) <= scim_paths
    for (method, path), (operation_id, parameters, has_body, success) in SCIM_OPERATIONS.items():
        operation = document["paths"][path][method]
        assert operation["operationId"] == operation_id, (method, path)
        assert _parameters(operation) == parameters, (method, path)
        assert operation["tags"] == ["scim"], (method, path)
        assert "description" not in operation, (method, path)  # the handlers' docstrings stay out of it
        body = operation.get("requestBody")
        assert (body is not None) == has_body, (method, path)
        if has_body:
            assert body["required"] is True
            assert list(body["content"]) == ["application/scim+json"]
        assert success in operation["responses"], (method, path)


def test_the_audit_log_and_its_export_take_the_same_filters(document):
    filters = ["query:actor", "query:action", "query:target", "query:since", "query:until"]
    audit_log = document["paths"]["/api/v1/audit"]["get"]
    export = document["paths"]["/api/v1/audit/export.csv"]["get"]
    assert _parameters(audit_log) == [*filters, "query:page", "query:size"]
    assert _parameters(export) == filters
    for operation in (audit_log, export):
        described = {p["name"]: p["schema"] for p in operation["parameters"]}
        assert described["actor"]["anyOf"][0]["maxLength"] == 320
        assert described["action"]["anyOf"][0]["maxLength"] == 64
        assert described["target"]["anyOf"][0]["maxLength"] == 512
        assert described["since"]["anyOf"][0] == {"type": "string", "format": "date-time"}
