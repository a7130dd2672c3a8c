"""The Backstage entity model: envelope, built-in kinds, validation rules, references and relations.

Usable on its own (no database): `validate_entity(data)` returns a `ValidEntity` or a list of problems,
each with a rule id and a field path. The rules are Backstage's (KubernetesValidatorFunctions and
`isValidTag`), so a file that Backstage accepts is accepted here and the other way round. The envelope
and the kinds are Pydantic models, exported as JSON Schema at `/api/v1/catalog/schemas`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

# --- Backstage's name rules -----------------------------------------------------------------------------

_OBJECT_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_LABEL = re.compile(r"^[a-z0-9]+(?:-+[a-z0-9]+)*$")
_KIND = re.compile(r"^[a-zA-Z][a-z0-9A-Z]*$")
_API_VERSION_SUFFIX = re.compile(r"^[a-z0-9A-Z]+$")
_TAG = re.compile(r"^[a-z0-9:+#]+(?:-[a-z0-9:+#]+)*$")


def is_valid_object_name(value: str) -> bool:
    return 1 <= len(value) <= 63 and bool(_OBJECT_NAME.match(value))


def is_valid_dns_label(value: str) -> bool:
    return 1 <= len(value) <= 63 and bool(_DNS_LABEL.match(value))


def is_valid_dns_subdomain(value: str) -> bool:
    return 1 <= len(value) <= 253 and all(is_valid_dns_label(part) for part in value.split("."))


def _prefix_and_or_suffix(value: str, prefix_ok, suffix_ok) -> bool:
    parts = value.split("/")
    if len(parts) == 1:
        return suffix_ok(parts[0])
    return len(parts) == 2 and prefix_ok(parts[0]) and suffix_ok(parts[1])


def is_valid_api_version(value: str) -> bool:
    return _prefix_and_or_suffix(
        value, is_valid_dns_subdomain, lambda s: 1 <= len(s) <= 63 and bool(_API_VERSION_SUFFIX.match(s))
    )


def is_valid_kind(value: str) -> bool:
    return 1 <= len(value) <= 63 and bool(_KIND.match(value))


def is_valid_label_key(value: str) -> bool:
    return _prefix_and_or_suffix(value, is_valid_dns_subdomain, is_valid_object_name)


def is_valid_label_value(value: str) -> bool:
    return value == "" or is_valid_object_name(value)


def is_valid_tag(value: str) -> bool:
    return 1 <= len(value) <= 63 and bool(_TAG.match(value))


def _rule(check, rule: str, what: str):
    def validate(value: str) -> str:
        if not check(value):
            raise PydanticCustomError(rule, "'{value}' is not a valid {what}", {"value": value, "what": what})
        return value

    return AfterValidator(validate)


Name = Annotated[str, _rule(is_valid_object_name, "invalid-name", "name (letters, digits, - _ . ; at most 63)")]
Namespace = Annotated[str, _rule(is_valid_dns_label, "invalid-namespace", "namespace (lowercase DNS label)")]
Kind = Annotated[str, _rule(is_valid_kind, "invalid-kind", "kind")]
ApiVersion = Annotated[str, _rule(is_valid_api_version, "invalid-api-version", "apiVersion")]
Tag = Annotated[str, _rule(is_valid_tag, "invalid-tag", "tag (lowercase, digits, : + # and single dashes)")]


def _check_mapping_keys(value: dict[str, Any], *, rule: str, what: str, check_value=None) -> dict[str, Any]:
    for key, item in value.items():
        if not is_valid_label_key(key):
            raise PydanticCustomError(rule, "'{key}' is not a valid {what} key", {"key": key, "what": what})
        if check_value and not check_value(item):
            raise PydanticCustomError(rule, "'{item}' is not a valid {what} value", {"item": item, "what": what})
    return value


Labels = Annotated[
    dict[str, str],
    AfterValidator(
        lambda v: _check_mapping_keys(v, rule="invalid-label", what="label", check_value=is_valid_label_value)
    ),
]
Annotations = Annotated[
    dict[str, str], AfterValidator(lambda v: _check_mapping_keys(v, rule="invalid-annotation", what="annotation"))
]

# --- Entity references ----------------------------------------------------------------------------------


class RefError(ValueError):
    pass


@dataclass(frozen=True)
class EntityRef:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        """The canonical, case-insensitive form used as the catalog's key: `kind:namespace/name`, lowercase."""
        return f"{self.kind}:{self.namespace}/{self.name}".lower()


def parse_ref(value: str, *, default_kind: str | None = None, default_namespace: str = "default") -> EntityRef:
    """Parse `[kind:][namespace/]name`, filling in the defaults Backstage uses for the field."""
    if not isinstance(value, str) or not value.strip():
        raise RefError("an entity reference must be a non-empty string")
    rest = value.strip()
    kind = default_kind
    if ":" in rest:
        kind, rest = rest.split(":", 1)
    namespace = default_namespace
    if "/" in rest:
        namespace, rest = rest.split("/", 1)
    if not kind:
        raise RefError(f"{value!r} needs an explicit kind (for example resource:{value})")
    if not is_valid_kind(kind) or not is_valid_dns_label(namespace.lower()) or not is_valid_object_name(rest):
        raise RefError(f"{value!r} is not a valid entity reference (kind:namespace/name)")
    return EntityRef(kind.lower(), namespace.lower(), rest)


def ref_of(kind: str, namespace: str, name: str) -> str:
    return str(EntityRef(kind, namespace, name))


# --- Envelope and kinds ---------------------------------------------------------------------------------


class Link(BaseModel):
    model_config = ConfigDict(extra="allow")
    url: str = Field(min_length=1)
    title: str | None = None
    icon: str | None = None
    type: str | None = None


class Metadata(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: Name
    namespace: Namespace = "default"
    title: str | None = None
    description: str | None = None
    labels: Labels = Field(default_factory=dict)
    annotations: Annotations = Field(default_factory=dict)
    tags: list[Tag] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)


class Envelope(BaseModel):
    """What every entity has, whatever its kind."""

    model_config = ConfigDict(extra="allow")
    apiVersion: ApiVersion
    kind: Kind
    metadata: Metadata
    spec: dict[str, Any] = Field(default_factory=dict)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="allow")


class ComponentSpec(_Spec):
    type: str
    lifecycle: str
    owner: str
    system: str | None = None
    subcomponentOf: str | None = None
    providesApis: list[str] = Field(default_factory=list)
    consumesApis: list[str] = Field(default_factory=list)
    dependsOn: list[str] = Field(default_factory=list)
    dependencyOf: list[str] = Field(default_factory=list)


class ApiSpec(_Spec):
    type: str
    lifecycle: str
    owner: str
    # Backstage wants a string; a `$yaml`/`$json` placeholder gives the parsed document, which we keep.
    definition: str | dict[str, Any]
    system: str | None = None


class ResourceSpec(_Spec):
    type: str
    owner: str
    system: str | None = None
    dependsOn: list[str] = Field(default_factory=list)
    dependencyOf: list[str] = Field(default_factory=list)


class SystemSpec(_Spec):
    owner: str
    domain: str | None = None
    type: str | None = None


class DomainSpec(_Spec):
    owner: str
    subdomainOf: str | None = None
    type: str | None = None


class Profile(_Spec):
    displayName: str | None = None
    email: str | None = None
    picture: str | None = None


class GroupSpec(_Spec):
    type: str
    profile: Profile | None = None
    parent: str | None = None
    children: list[str]
    members: list[str] = Field(default_factory=list)


class UserSpec(_Spec):
    profile: Profile | None = None
    memberOf: list[str]


class LocationSpec(_Spec):
    type: str | None = None
    target: str | None = None
    targets: list[str] = Field(default_factory=list)
    presence: str | None = None


SPEC_MODELS: dict[str, type[_Spec]] = {
    "component": ComponentSpec,
    "api": ApiSpec,
    "resource": ResourceSpec,
    "system": SystemSpec,
    "domain": DomainSpec,
    "group": GroupSpec,
    "user": UserSpec,
    "location": LocationSpec,
}
BUILTIN_KINDS = ["Domain", "System", "Component", "API", "Resource", "Group", "User", "Location"]

# --- Relations ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RelationRule:
    field: str
    default_kind: str | None
    forward: str
    reverse: str


_OWNER = RelationRule("owner", "group", "ownedBy", "ownerOf")
_SYSTEM = RelationRule("system", "system", "partOf", "hasPart")
_DEPENDS_ON = RelationRule("dependsOn", None, "dependsOn", "dependencyOf")
_DEPENDENCY_OF = RelationRule("dependencyOf", None, "dependencyOf", "dependsOn")

RELATION_RULES: dict[str, list[RelationRule]] = {
    "component": [
        _OWNER,
        _SYSTEM,
        RelationRule("subcomponentOf", "component", "partOf", "hasPart"),
        RelationRule("providesApis", "api", "providesApi", "apiProvidedBy"),
        RelationRule("consumesApis", "api", "consumesApi", "apiConsumedBy"),
        _DEPENDS_ON,
        _DEPENDENCY_OF,
    ],
    "api": [_OWNER, _SYSTEM],
    "resource": [_OWNER, _SYSTEM, _DEPENDS_ON, _DEPENDENCY_OF],
    "system": [_OWNER, RelationRule("domain", "domain", "partOf", "hasPart")],
    "domain": [_OWNER, RelationRule("subdomainOf", "domain", "partOf", "hasPart")],
    "group": [
        RelationRule("parent", "group", "childOf", "parentOf"),
        RelationRule("children", "group", "parentOf", "childOf"),
        RelationRule("members", "user", "hasMember", "memberOf"),
    ],
    "user": [RelationRule("memberOf", "group", "memberOf", "hasMember")],
}
RELATION_PAIRS = {rule.forward: rule.reverse for rules in RELATION_RULES.values() for rule in rules}

# --- Validation -----------------------------------------------------------------------------------------


@dataclass
class Problem:
    rule: str
    path: tuple[str | int, ...]
    message: str

    def describe(self) -> str:
        where = ".".join(str(p) for p in self.path)
        return f"{where}: {self.message}" if where else self.message


@dataclass
class ValidEntity:
    """An entity that passed validation, with its canonical ref and the relations it declares."""

    data: dict[str, Any]
    ref: str
    kind: str
    namespace: str
    name: str
    relations: list[tuple[str, str, str]] = field(default_factory=list)  # (source_ref, type, target_ref)

    @property
    def kind_key(self) -> str:
        return self.kind.lower()

    def spec_ref(self, field_name: str, default_kind: str) -> str | None:
        value = self.data.get("spec", {}).get(field_name)
        if not isinstance(value, str):
            return None
        try:
            return str(parse_ref(value, default_kind=default_kind, default_namespace=self.namespace))
        except RefError:
            return None


_PYDANTIC_RULES = {"missing": "missing-field", "extra_forbidden": "unknown-field"}


def _problems_from(error: ValidationError, prefix: tuple[str | int, ...] = ()) -> list[Problem]:
    problems = []
    for err in error.errors(include_url=False):
        rule = _PYDANTIC_RULES.get(err["type"], err["type"] if "-" in err["type"] else "invalid-type")
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = "is required" if err["type"] == "missing" else err["msg"]
        problems.append(Problem(rule, prefix + loc, message))
    return problems


def validate_entity(data: Any) -> ValidEntity | list[Problem]:
    if not isinstance(data, dict):
        return [Problem("invalid-document", (), "an entity must be a mapping with apiVersion, kind and metadata")]
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as exc:
        return _problems_from(exc)
    kind_key = envelope.kind.lower()
    spec_model = SPEC_MODELS.get(kind_key)
    if spec_model is not None:
        try:
            spec_model.model_validate(envelope.spec)
        except ValidationError as exc:
            return _problems_from(exc, ("spec",))
    metadata = envelope.metadata
    entity = ValidEntity(
        data=data,
        ref=ref_of(kind_key, metadata.namespace, metadata.name),
        kind=envelope.kind,
        namespace=metadata.namespace,
        name=metadata.name,
    )
    problems = _collect_relations(entity, envelope.spec)
    return problems or entity


def _collect_relations(entity: ValidEntity, spec: dict[str, Any]) -> list[Problem]:
    rules = RELATION_RULES.get(entity.kind_key)
    if rules is None:  # unknown kinds: an owner is still an owner
        rules = [_OWNER] if isinstance(spec.get("owner"), str) else []
    problems: list[Problem] = []
    seen: set[tuple[str, str, str]] = set()
    for rule in rules:
        value = spec.get(rule.field)
        if value is None:
            continue
        values = value if isinstance(value, list) else [value]
        for index, item in enumerate(values):
            path = ("spec", rule.field, index) if isinstance(value, list) else ("spec", rule.field)
            try:
                target = str(parse_ref(item, default_kind=rule.default_kind, default_namespace=entity.namespace))
            except RefError as exc:
                problems.append(Problem("invalid-ref", path, str(exc)))
                continue
            for triple in ((entity.ref, rule.forward, target), (target, rule.reverse, entity.ref)):
                if triple not in seen:
                    seen.add(triple)
                    entity.relations.append(triple)
    return problems


def json_schemas() -> dict[str, Any]:
    """JSON Schema of the envelope and of each built-in kind's spec."""
    schemas = {"Envelope": Envelope.model_json_schema()}
    for kind in BUILTIN_KINDS:
        schemas[kind] = SPEC_MODELS[kind.lower()].model_json_schema()
    return schemas
