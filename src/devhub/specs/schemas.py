"""Shapes of the definitions API: versions, operations, publish requests and results, and their URLs."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

from devhub.pagination import PageMeta
from devhub.specs.errors import SpecError
from devhub.specs.models import SpecOperation, SpecVersion

Lifecycle = Literal["draft", "beta", "stable", "deprecated", "retired"]


def split_ref(api_ref: str) -> tuple[str, str]:
    """(namespace, name) of `api:namespace/name`."""
    rest = api_ref.split(":", 1)[-1]
    namespace, _, name = rest.rpartition("/")
    return namespace or "default", name


def api_base(api_ref: str) -> str:
    namespace, name = split_ref(api_ref)
    return f"/apis/{quote(namespace, safe='')}/{quote(name, safe='')}"


def version_urls(api_ref: str, version: str) -> dict[str, str]:
    namespace, name = split_ref(api_ref)
    api = f"/api/v1/apis/{quote(namespace, safe='')}/{quote(name, safe='')}/versions/{quote(version, safe='')}"
    return {
        "docs": f"{api_base(api_ref)}/v/{quote(version, safe='')}",
        "self": api,
        "bundled_json": f"{api}/definition?bundled=true&format=json",
        "bundled_yaml": f"{api}/definition?bundled=true&format=yaml",
        "original": f"{api}/definition?bundled=false",
    }


class Links(BaseModel):
    docs: str = Field(description="The reference docs page of this version.")
    self: str
    bundled_json: str
    bundled_yaml: str
    original: str = Field(description="The main file as published.")


class OperationOut(BaseModel):
    anchor: str = Field(description="Unique within the version; the docs page's permalink fragment.")
    method: str | None = Field(description="get, post, ... or publish/subscribe (AsyncAPI 2), send/receive (3).")
    path: str = Field(description="The OpenAPI path, or the AsyncAPI channel (address).")
    operation_id: str | None
    summary: str | None
    tags: list[str]
    deprecated: bool

    @classmethod
    def of(cls, operation: SpecOperation) -> OperationOut:
        return cls(
            anchor=operation.anchor,
            method=operation.method,
            path=operation.path,
            operation_id=operation.operation_id,
            summary=operation.summary,
            tags=list(operation.tags or []),
            deprecated=bool(operation.deprecated),
        )


class VersionSummary(BaseModel):
    api_ref: str
    version: str
    lifecycle: Lifecycle
    format: str = Field(description="openapi (also for Swagger 2.0) or asyncapi.")
    format_version: str = Field(description="As declared: 3.0.3, 3.1.0, 2.0 (Swagger), 2.6.0, 3.0.0 ...")
    title: str
    content_hash: str = Field(description="sha256 of the bundled document (canonical JSON).")
    operation_count: int
    source_kind: str = Field(description="cli, upload, api or catalog.")
    source_name: str
    publisher: str
    published_at: datetime
    sunset_at: datetime | None
    links: Links

    @classmethod
    def of(cls, version: SpecVersion) -> VersionSummary:
        return cls(
            api_ref=version.api_ref,
            version=version.version,
            lifecycle=version.lifecycle,
            format=version.format,
            format_version=version.format_version,
            title=version.title,
            content_hash=version.content_hash,
            operation_count=version.operation_count,
            source_kind=version.source_kind,
            source_name=version.source_name,
            publisher=version.publisher,
            published_at=version.published_at,
            sunset_at=version.sunset_at,
            links=Links(**version_urls(version.api_ref, version.version)),
        )


class VersionDetail(VersionSummary):
    description: str | None
    operations: list[OperationOut]

    @classmethod
    def with_operations(cls, version: SpecVersion, operations: list[SpecOperation]) -> VersionDetail:
        return cls(
            **VersionSummary.of(version).model_dump(),
            description=version.description,
            operations=[OperationOut.of(op) for op in operations],
        )


class VersionList(BaseModel):
    items: list[VersionSummary]
    meta: PageMeta


class DefinitionError(BaseModel):
    pointer: str = Field(description="JSON pointer into the (bundled) document; empty for the whole document.")
    line: int | None = Field(description="Line in `file` where the problem is, when known.")
    message: str
    file: str | None = Field(None, description="The file of a multi-file definition the problem is in.")

    @classmethod
    def of(cls, error: SpecError) -> DefinitionError:
        return cls(**error.to_dict())


class PublishIn(BaseModel):
    version: str = Field(min_length=1, max_length=64, description="The version to publish, e.g. 1.2.0.")
    lifecycle: Lifecycle = "stable"
    definition: str = Field(
        min_length=1, description="The definition itself: OpenAPI, Swagger or AsyncAPI, YAML or JSON."
    )
    allow_breaking: bool = Field(
        False, description="Publish even when it breaks clients of the stable version before it (audited)."
    )


class PublishOut(BaseModel):
    status: Literal["created", "unchanged"] = Field(description="unchanged: this version already has this content.")
    version: VersionSummary
    warnings: list[DefinitionError] = Field(
        default_factory=list, description="Things published as they are, e.g. $refs to URLs kept as links."
    )


class LifecycleIn(BaseModel):
    lifecycle: Lifecycle


PUBLISH_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "version"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "A .yaml, .yml or .json definition, or a .zip of a multi-file one.",
                    },
                    "version": {"type": "string", "maxLength": 64},
                    "lifecycle": {"type": "string", "enum": ["draft", "beta", "stable", "deprecated", "retired"]},
                    "main": {"type": "string", "description": "In a zip: the main file, when there are several."},
                    "allow_breaking": {"type": "boolean", "description": "Publish a breaking change (audited)."},
                },
            }
        },
        "application/json": {"schema": PublishIn.model_json_schema()},
    },
}
