"""Reading catalog files from a location: a local path, a URL, or a path in a git repository.

A location is read as a *tree* with one root: the directory of the imported file, the URL's directory,
or the cloned repository. Location entities, `$text`/`$json`/`$yaml` placeholders and globs are resolved
relative to the file that names them and must stay inside the tree: no `..` escapes, no absolute paths,
no other hosts. This is what keeps an import from reading the server's other files.

Reading produces a `ReadResult` (valid entities with their relations, one error per bad entity or file);
`service.apply_read` turns it into rows. Nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import posixpath
import shutil
import socket
import subprocess
import tempfile
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import httpx

from devhub.catalog.kinds import ValidEntity, validate_entity
from devhub.settings import Settings
from devhub.yamlload import YamlError, load_documents, node_line

LOCATION_TYPES = ("file", "url", "git")
MANAGED_BY_LOCATION = "backstage.io/managed-by-location"
MANAGED_BY_ORIGIN = "backstage.io/managed-by-origin-location"
DEFAULT_FILE = "catalog-info.yaml"


class LocationError(ValueError):
    """The location itself cannot be read (bad target, unreachable, refused)."""


@dataclass
class ReadError:
    source: str
    line: int | None
    rule: str
    message: str
    entity_ref: str | None = None


@dataclass
class ReadEntity:
    entity: ValidEntity
    source: str
    line: int
    content_hash: str
    # Read while the tree is open, for the domains that need more than the entity:
    definition_files: dict[str, str] | None = None  # an API definition and the files it $refs, by path
    definition_path: str | None = None  # which of those is the definition itself
    docs_files: dict[str, str] | None = None  # the docs-as-code folder (techdocs-ref dir:), by relative path
    visibility: Any = None  # set by the catalog service before writing (file annotation or portal override)


@dataclass
class ReadResult:
    entities: list[ReadEntity] = field(default_factory=list)
    errors: list[ReadError] = field(default_factory=list)
    files_read: int = 0


class Tree(Protocol):
    """Files under one root, addressed by POSIX paths relative to it."""

    def read(self, path: str) -> bytes: ...

    def glob(self, pattern: str) -> list[str]: ...

    def display(self, path: str) -> str: ...


def confine(base_file: str, target: str) -> str:
    """Resolve `target` relative to the directory of `base_file`; refuse anything that leaves the tree."""
    if not target or target.startswith(("/", "\\")) or "://" in target or target.startswith("~"):
        raise LocationError(f"{target!r} must be a relative path inside the imported tree")
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(base_file), target))
    if joined == ".." or joined.startswith("../") or joined.startswith("/"):
        raise LocationError(f"{target!r} leaves the imported tree")
    return joined


class LocalTree:
    def __init__(self, root: Path, label: str | None = None) -> None:
        self.root = root.resolve()
        self.label = label

    def _path(self, path: str) -> Path:
        resolved = (self.root / path).resolve()
        if not resolved.is_relative_to(self.root):  # a symlink pointing out of the tree
            raise LocationError(f"{path!r} leaves the imported tree")
        return resolved

    def read(self, path: str) -> bytes:
        target = self._path(path)
        if not target.is_file():
            raise LocationError(f"{self.display(path)} does not exist")
        return target.read_bytes()

    def glob(self, pattern: str) -> list[str]:
        if not any(ch in pattern for ch in "*?["):
            return [pattern]
        matches = [
            p.relative_to(self.root).as_posix()
            for p in self.root.glob(pattern)
            if p.is_file() and p.resolve().is_relative_to(self.root)
        ]
        return sorted(matches)

    def display(self, path: str) -> str:
        return f"{self.label}/{path}" if self.label else str(self.root / path)


class UrlTree:
    """Files under a URL directory, read over HTTP(S). No globs: HTTP cannot list a directory."""

    def __init__(self, root_url: str, settings: Settings, *, allow_private: bool) -> None:
        self.root_url = root_url
        self.settings = settings
        self.allow_private = allow_private

    def read(self, path: str) -> bytes:
        url = urljoin(self.root_url, path)
        check_host(url, self.settings, allow_private=self.allow_private)
        limit = self.settings.catalog_max_file_bytes
        try:
            with httpx.stream("GET", url, timeout=self.settings.http_timeout_seconds, follow_redirects=False) as rsp:
                if rsp.status_code != 200:
                    raise LocationError(f"{url} answered HTTP {rsp.status_code}")
                chunks, size = [], 0
                for chunk in rsp.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise LocationError(f"{url} is larger than {limit:,} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise LocationError(f"{url} could not be read: {exc}") from None

    def glob(self, pattern: str) -> list[str]:
        if any(ch in pattern for ch in "*?["):
            raise LocationError(f"{pattern!r}: globs work for files and git repositories, not URLs")
        return [pattern]

    def display(self, path: str) -> str:
        return urljoin(self.root_url, path)


def check_host(url: str, settings: Settings, *, allow_private: bool) -> None:
    """Refuse hosts outside the allow-list, and loopback or private addresses unless listed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LocationError(f"{url!r}: only http and https URLs can be imported")
    host = parts.hostname.lower()
    allowed = [h.lower() for h in settings.catalog_allowed_hosts]
    if allowed and host not in allowed:
        raise LocationError(f"{host} is not in DEVHUB_CATALOG_ALLOWED_HOSTS")
    if host in allowed or allow_private:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, parts.port or 443)}
    except OSError as exc:
        raise LocationError(f"{host} could not be resolved: {exc}") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            raise LocationError(f"{host} is a private address; list it in DEVHUB_CATALOG_ALLOWED_HOSTS to allow it")


# --- Opening a location ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GitTarget:
    repository: str
    path: str
    ref: str | None


def parse_git_target(target: str) -> GitTarget:
    """`git+<repository URL>[//path/in/repo][?ref=branch-or-tag]`, as Terraform spells module sources."""
    if not target.startswith("git+"):
        raise LocationError("git locations look like git+https://host/repo.git//path/catalog-info.yaml?ref=main")
    rest = target[4:]
    ref = None
    if "?ref=" in rest:
        rest, ref = rest.split("?ref=", 1)
    scheme, sep, after = rest.partition("://")
    if not sep or scheme not in ("https", "http", "ssh", "file"):
        raise LocationError(f"{target!r}: the repository must be an https, ssh or file URL")
    repo_part, _, path = after.partition("//")
    path = path.strip("/") or DEFAULT_FILE
    if ref is not None and (not ref or ref.startswith("-")):
        raise LocationError(f"{ref!r} is not a valid git ref")
    return GitTarget(repository=f"{scheme}://{repo_part}", path=path, ref=ref)


@contextmanager
def open_location(location_type: str, target: str, settings: Settings, *, trusted: bool) -> Iterator[tuple[Tree, str]]:
    """Yield the tree of a location and the path of its entry file inside it.

    `trusted` is true for the CLI (the operator's own machine). Web requests are untrusted: local paths
    must lie under `import_roots`, private hosts must be listed, and `file://` git URLs obey the same rule.
    """
    if location_type == "file":
        path = Path(target)
        if path.is_dir():
            path = path / DEFAULT_FILE
        path = path.resolve()
        if not trusted:
            _check_import_root(path, settings)
        if not path.is_file():
            raise LocationError(f"{path} does not exist")
        yield LocalTree(path.parent), path.name
    elif location_type == "url":
        check_host(target, settings, allow_private=trusted)
        root, _, name = target.rpartition("/")
        yield UrlTree(root + "/", settings, allow_private=trusted), name or DEFAULT_FILE
    elif location_type == "git":
        git = parse_git_target(target)
        if git.repository.startswith("file://"):
            if not trusted:
                _check_import_root(Path(git.repository[7:]), settings)
        elif git.repository.startswith(("http://", "https://")):
            check_host(git.repository, settings, allow_private=trusted)
        with _clone(git, settings) as checkout:
            yield LocalTree(checkout, label=git.repository), git.path
    else:
        raise LocationError(f"unknown location type {location_type!r}; use one of {', '.join(LOCATION_TYPES)}")


def _check_import_root(path: Path, settings: Settings) -> None:
    resolved = path.resolve()
    if not any(resolved.is_relative_to(root.resolve()) for root in settings.import_roots):
        raise LocationError(
            f"{path} is outside the directories the portal may read (DEVHUB_IMPORT_ROOTS); "
            "use the CLI or a URL or git location"
        )


@contextmanager
def _clone(git: GitTarget, settings: Settings) -> Iterator[Path]:
    workdir = Path(tempfile.mkdtemp(prefix="devhub-git-"))
    command = ["git", "-c", "core.symlinks=false", "clone", "--quiet", "--depth", "1", "--no-tags"]
    if git.ref:
        command += ["--branch", git.ref]
    command += ["--", git.repository, str(workdir / "repo")]
    try:
        try:
            subprocess.run(
                command,
                check=True,
                capture_output=True,
                timeout=settings.git_timeout_seconds,
                env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin:/usr/local/bin"},
            )
        except subprocess.CalledProcessError as exc:
            message = exc.stderr.decode(errors="replace").strip().splitlines()
            raise LocationError(f"git clone of {git.repository} failed: {message[-1] if message else exc}") from None
        except subprocess.TimeoutExpired:
            raise LocationError(f"git clone of {git.repository} timed out") from None
        yield workdir / "repo"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- Reading the tree -----------------------------------------------------------------------------------


def read_tree(tree: Tree, entry: str, settings: Settings, *, origin: str) -> ReadResult:
    """Read the entry file and every file its Location entities name, breadth first."""
    result = ReadResult()
    queue: deque[str] = deque([entry])
    seen_files: set[str] = {entry}
    seen_refs: dict[str, str] = {}
    while queue:
        path = queue.popleft()
        for target in _read_file(tree, path, settings, origin, result, seen_refs):
            if target not in seen_files:
                if len(seen_files) >= settings.catalog_max_files:
                    result.errors.append(
                        ReadError(
                            tree.display(path),
                            None,
                            "too-many-files",
                            f"more than {settings.catalog_max_files} files; stopped",
                        )
                    )
                    return result
                seen_files.add(target)
                queue.append(target)
    return result


def _read_file(
    tree: Tree, path: str, settings: Settings, origin: str, result: ReadResult, seen_refs: dict[str, str]
) -> list[str]:
    """Read one file into `result`; return the files its Location entities point to."""
    source = tree.display(path)
    try:
        raw = tree.read(path)
        if len(raw) > settings.catalog_max_file_bytes:
            raise LocationError(f"file is larger than {settings.catalog_max_file_bytes:,} bytes")
        documents = list(load_documents(raw))
    except LocationError as exc:
        result.errors.append(ReadError(source, None, "unreadable", str(exc)))
        return []
    except YamlError as exc:
        result.errors.append(ReadError(source, exc.line, exc.rule, str(exc)))
        return []
    result.files_read += 1
    targets: list[str] = []
    for document in documents:
        if document.data is None:
            continue
        data = document.data
        try:
            data = resolve_placeholders(data, tree, path, settings)
        except (LocationError, YamlError, ValueError) as exc:
            result.errors.append(ReadError(source, document.line, "placeholder", str(exc), _guess_ref(data)))
            continue
        validated = validate_entity(data)
        if isinstance(validated, list):
            first = validated[0]
            message = "; ".join(problem.describe() for problem in validated)
            line = document.line_of(first.path) if first.path else document.line
            result.errors.append(ReadError(source, line, first.rule, message, _guess_ref(data)))
            continue
        if validated.ref in seen_refs:
            result.errors.append(
                ReadError(
                    source,
                    document.line,
                    "duplicate-entity",
                    f"{validated.ref} is also defined in {seen_refs[validated.ref]}",
                    validated.ref,
                )
            )
            continue
        seen_refs[validated.ref] = source
        _annotate(validated, source, origin)
        item = ReadEntity(validated, source, document.line, "")
        try:
            _attach_files(item, document.data, tree, path, settings)
        except (LocationError, YamlError) as exc:
            result.errors.append(ReadError(source, document.line, "attachment", str(exc), validated.ref))
        item.content_hash = _content_hash(validated, source, document.line, item)
        result.entities.append(item)
        if validated.kind_key == "location":
            targets.extend(_location_targets(tree, path, validated, document, source, result))
    return targets


def _location_targets(tree, path, entity: ValidEntity, document, source: str, result: ReadResult) -> list[str]:
    spec = entity.data.get("spec", {})
    declared = ([spec["target"]] if spec.get("target") else []) + list(spec.get("targets") or [])
    targets: list[str] = []
    for index, target in enumerate(declared):
        try:
            targets.extend(tree.glob(confine(path, target)))
        except LocationError as exc:
            field_path = ("spec", "target") if index == 0 and spec.get("target") else ("spec", "targets")
            result.errors.append(
                ReadError(source, node_line(document.node, field_path), "location-escape", str(exc), entity.ref)
            )
    return targets


def resolve_placeholders(value: Any, tree: Tree, path: str, settings: Settings, depth: int = 0) -> Any:
    """Replace `{$text: f}`, `{$json: f}` and `{$yaml: f}` by the file's content, read from inside the tree."""
    if depth > 64:
        raise ValueError("entity nests too deeply")
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, target),) = value.items()
            if isinstance(key, str) and key.startswith("$"):
                return _placeholder(key, target, tree, path, settings)
        return {k: resolve_placeholders(v, tree, path, settings, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_placeholders(item, tree, path, settings, depth + 1) for item in value]
    return value


def _placeholder(key: str, target: Any, tree: Tree, path: str, settings: Settings) -> Any:
    if key not in ("$text", "$json", "$yaml"):
        raise ValueError(f"unknown placeholder {key}; use $text, $json or $yaml")
    if not isinstance(target, str):
        raise ValueError(f"{key} needs a relative file path")
    relative = confine(path, target)
    raw = tree.read(relative)
    if len(raw) > settings.catalog_max_file_bytes:
        raise LocationError(f"{target} is larger than {settings.catalog_max_file_bytes:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{target} is not UTF-8 text") from None
    if key == "$text":
        return text
    if key == "$json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{target} is not valid JSON: {exc}") from None
    documents = list(load_documents(text))
    if len(documents) != 1:
        raise ValueError(f"{target} must hold exactly one YAML document")
    return documents[0].data


def _annotate(entity: ValidEntity, source: str, origin: str) -> None:
    """Record where the entity came from, with Backstage's annotations."""
    metadata = entity.data.setdefault("metadata", {})
    annotations = dict(metadata.get("annotations") or {})
    kind = "url" if "://" in source and not source.startswith("file://") else "file"
    annotations[MANAGED_BY_LOCATION] = f"{kind}:{source}"
    annotations[MANAGED_BY_ORIGIN] = origin
    metadata["annotations"] = annotations


def _content_hash(entity: ValidEntity, source: str, line: int, item: ReadEntity) -> str:
    """Changes when the entity, where it stands, or any file attached to it changes."""
    attached = [item.definition_path, item.definition_files, item.docs_files]
    payload = json.dumps([entity.data, source, line, attached], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


# --- Files attached to entities -------------------------------------------------------------------------

TECHDOCS_REF = "backstage.io/techdocs-ref"
MAX_ATTACHED_FILES = 500


def _attach_files(item: ReadEntity, raw: Any, tree: Tree, path: str, settings: Settings) -> None:
    """Collect what the specs and docs domains will need once the tree is closed."""
    definition = raw.get("spec", {}).get("definition") if isinstance(raw.get("spec"), dict) else None
    if item.entity.kind_key == "api" and isinstance(definition, dict) and len(definition) == 1:
        ((key, target),) = definition.items()
        if key in ("$text", "$json", "$yaml") and isinstance(target, str):
            item.definition_path = confine(path, target)
            item.definition_files = collect_ref_files(tree, item.definition_path, settings)
    techdocs = item.entity.data.get("metadata", {}).get("annotations", {}).get(TECHDOCS_REF)
    if isinstance(techdocs, str) and techdocs.startswith("dir:") and isinstance(tree, LocalTree):
        item.docs_files = collect_docs(tree, confine(path, techdocs[4:].strip() or "."), settings)


def collect_ref_files(tree: Tree, entry: str, settings: Settings) -> dict[str, str]:
    """The entry file and every file it reaches through relative `$ref`s, confined to the tree.

    URLs and unreadable targets are left out: the bundler reports them, with the $ref that named them.
    """
    files: dict[str, str] = {}
    pending = [entry]
    while pending and len(files) < MAX_ATTACHED_FILES:
        current = pending.pop()
        if current in files:
            continue
        files[current] = _read_text(tree, current, settings)
        for ref in _relative_refs(files[current]):
            try:
                target = confine(current, ref)
            except LocationError:
                continue
            if target not in files:
                pending.append(target)
    return files


def _relative_refs(text: str) -> set[str]:
    try:
        documents = [doc.data for doc in load_documents(text)]
    except YamlError:
        return set()
    found: set[str] = set()
    stack: list[Any] = documents
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#") and "://" not in ref:
                file_part = ref.split("#", 1)[0]
                if file_part:
                    found.add(file_part)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def collect_docs(tree: LocalTree, folder: str, settings: Settings) -> dict[str, str]:
    """Markdown files (and mkdocs.yml for navigation) under a docs-as-code folder, by path inside it."""
    prefix = "" if folder in ("", ".") else folder.rstrip("/") + "/"
    names = tree.glob(f"{prefix}**/*.md") + tree.glob(f"{prefix}mkdocs.yml") + tree.glob(f"{prefix}mkdocs.yaml")
    docs: dict[str, str] = {}
    for name in sorted(set(names))[:MAX_ATTACHED_FILES]:
        if (tree.root / name).is_file():
            docs[name[len(prefix) :]] = _read_text(tree, name, settings)
    return docs


def _read_text(tree: Tree, path: str, settings: Settings) -> str:
    raw = tree.read(path)
    if len(raw) > settings.catalog_max_file_bytes:
        raise LocationError(f"{tree.display(path)} is larger than {settings.catalog_max_file_bytes:,} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LocationError(f"{tree.display(path)} is not UTF-8 text") from None


def _guess_ref(data: Any) -> str | None:
    """Best-effort ref of an invalid entity, so its error can be found from the entity's name."""
    if not isinstance(data, dict):
        return None
    kind = data.get("kind")
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    name, namespace = metadata.get("name"), metadata.get("namespace") or "default"
    if isinstance(kind, str) and isinstance(name, str) and isinstance(namespace, str):
        return f"{kind}:{namespace}/{name}".lower()[:300]
    return None
