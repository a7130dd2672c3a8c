"""Bundling: a definition split over several files with relative `$ref`s becomes one document.

Input: the main file's path and `{relative path: text}` of the files it may use (from a directory, a zip,
a git checkout or the catalog). Output: one document in which every `$ref` to another file is replaced by
the value it points to, placed where it is first used (a definition's `components`, or Swagger's
`definitions`, are walked first, so shared schemas land there under their own names); later `$ref`s to
the same value become internal `#/...` references to that place. Each value is inlined once, so circular
references end as internal references and bundling always terminates.

Refused, with the `$ref`, its file and line: `file:` and other schemes, absolute paths, paths leaving the
uploaded tree, files that are not there, and pointers that resolve to nothing. `http(s):` URLs are never
fetched either: by default (`url_refs="keep"`) they stay in the document as links to the outside, each
reported as a warning (real definitions point at public schemas this way, e.g. AsyncAPI Avro payloads);
with `url_refs="refuse"` they are errors. No file is read and no request is made here: only the texts
given are used.
"""

from __future__ import annotations

import posixpath
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from devhub.specs.errors import SpecError, SpecInvalid, from_pointer, to_pointer
from devhub.specs.limits import MAX_ERRORS, Limits
from devhub.specs.parse import Source, parse_source, resolve_path

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_LITERAL_KEYS = {"example", "enum", "const"}  # their values are data: a "$ref" in them is not a reference
_FIRST = {(): ("components", "definitions", "parameters", "responses"), ("components",): ("schemas",)}
_MAX_REF_HOPS = 64

Path = tuple[str | int, ...]
Target = tuple[str, Path]  # (file, path inside it)


@dataclass
class Bundle:
    document: Any
    main: str
    sources: dict[str, Source]  # the files the main file reaches, by path
    placements: dict[Path, Target] = field(default_factory=dict)  # where inlined values came from
    warnings: list[SpecError] = field(default_factory=list)  # $refs to URLs kept as links

    @property
    def files(self) -> dict[str, str]:
        return {path: source.text for path, source in self.sources.items()}

    def locate(self, path: Path) -> tuple[str, int | None]:
        """Which file and line a path of the bundled document comes from."""
        path = tuple(path)
        for end in range(len(path), 0, -1):
            origin = self.placements.get(path[:end])
            if origin is not None:
                file, inner = origin
                return file, self.sources[file].line_of((*inner, *path[end:]))
        return self.main, self.sources[self.main].line_of(path)

    def error(self, path: Path, message: str) -> SpecError:
        file, line = self.locate(path)
        return SpecError(message, pointer=to_pointer(path), line=line, file=file)


def normalise_path(path: str) -> str:
    """A file path of the uploaded tree in one spelling: POSIX, relative, no `.` segments."""
    cleaned = posixpath.normpath(path.replace("\\", "/")).lstrip("/")
    return "" if cleaned == "." else cleaned


def check_sizes(files: dict[str, str], limits: Limits) -> None:
    if len(files) > limits.max_files:
        raise SpecInvalid(
            [SpecError(f"the definition has {len(files)} files; at most {limits.max_files} are accepted")], status=413
        )
    total = sum(len(text.encode("utf-8", "surrogatepass")) for text in files.values())
    if total > limits.max_bytes:
        raise SpecInvalid(
            [SpecError(f"the definition is {total:,} bytes; at most {limits.max_bytes:,} are accepted")], status=413
        )


def split_ref(ref: str) -> tuple[str, str]:
    """`file#/pointer` -> (file, pointer), both percent-decoded."""
    file_part, _, fragment = ref.partition("#")
    return unquote(file_part), unquote(fragment)


class UrlRef(ValueError):
    """A `$ref` to an http(s) URL: never fetched; kept as a link or refused, as configured."""


def ref_target(current_file: str, ref: str) -> tuple[str, Path]:
    """The file and path a `$ref` names, relative to the file it is in; ValueError says why it is refused."""
    file_part, fragment = split_ref(ref)
    if ref.lower().startswith(("http://", "https://")):
        raise UrlRef(f"$ref {ref!r} points to a URL; only relative paths inside the definition are resolved")
    if _SCHEME.match(ref) or ref.startswith("//"):
        raise ValueError(f"$ref {ref!r} points to a URL; only relative paths inside the definition are allowed")
    if file_part.startswith(("/", "\\", "~")):
        raise ValueError(f"$ref {ref!r} is an absolute path; only relative paths inside the definition are allowed")
    if fragment and not fragment.startswith("/"):
        raise ValueError(f"$ref {ref!r}: only JSON pointer fragments (#/...) are supported")
    if file_part:
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(current_file), file_part.replace("\\", "/")))
        if joined == ".." or joined.startswith("../"):
            raise ValueError(f"$ref {ref!r} leaves the uploaded files")
        target_file = joined
    else:
        target_file = current_file
    return target_file, from_pointer(fragment)


def iter_refs(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every `{"$ref": "..."}` in a document, with its path, outside literal values (examples, enums)."""
    stack: list[tuple[Any, Path]] = [(value, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, dict):
            ref = current.get("$ref")
            if isinstance(ref, str):
                yield where, ref
            for key, child in current.items():
                if isinstance(child, dict | list) and not _is_literal(key, where):
                    stack.append((child, (*where, key)))
        elif isinstance(current, list):
            for index, child in enumerate(current):
                if isinstance(child, dict | list):
                    stack.append((child, (*where, index)))


def _is_literal(key: str, parent: Path) -> bool:
    return key in _LITERAL_KEYS or (key == "value" and len(parent) >= 2 and parent[-2] == "examples")


class _Bundler:
    def __init__(
        self, main: str, files: dict[str, str], limits: Limits, parsed: dict[str, Source] | None, url_refs: str
    ) -> None:
        self.main = main
        self.url_refs = url_refs
        self.warnings: list[SpecError] = []
        self.files = files
        self.limits = limits
        self.parsed = parsed if parsed is not None else {}
        self.sources: dict[str, Source] = {}
        self.errors: list[SpecError] = []
        self.omitted = 0
        self.targets: dict[tuple[str, str], Target | None] = {}  # (file, $ref) -> canonical target
        self.wanted: set[Target] = set()
        self.external = False
        self.placed: dict[Target, Path] = {}
        self.placements: dict[Path, Target] = {}

    def fail(self, error: SpecError) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error)
        else:
            self.omitted += 1

    def source(self, path: str) -> Source | None:
        if path in self.sources:
            return self.sources[path]
        text = self.files.get(path)
        if text is None:
            return None
        source = self.parsed.get(path)
        if source is None:
            source = parse_source(path, text, self.limits)  # raises SpecInvalid for the file
            self.parsed[path] = source
        self.sources[path] = source
        return source

    # --- reading the files the main file reaches, and where each $ref goes -------------------------------

    def scan(self) -> None:
        queue = deque([self.main])
        seen = {self.main}
        while queue:
            current = queue.popleft()
            try:
                source = self.source(current)
            except SpecInvalid as exc:
                for error in exc.errors:
                    self.fail(error)
                continue
            if source is None:
                continue
            for where, ref in iter_refs(source.data):
                key = (current, ref)
                if key in self.targets:
                    continue
                target = self._target(source, where, ref)
                self.targets[key] = target
                if target is None:
                    continue
                if target[0] != self.main or not ref.startswith("#"):
                    self.external = True  # the document must be rebuilt: this $ref changes
                if target[0] != self.main:
                    self.wanted.add(target)
                if target[0] not in seen:
                    seen.add(target[0])
                    queue.append(target[0])

    def _target(self, source: Source, where: Path, ref: str) -> Target | None:
        ref_path = (*where, "$ref")
        try:
            file, path = ref_target(source.path, ref)
        except UrlRef as exc:
            error = SpecError(str(exc), pointer=to_pointer(ref_path), line=source.line_of(ref_path), file=source.path)
            if self.url_refs == "keep":
                error.message = f"$ref {ref!r} is a URL: kept as a link, not fetched"
                self.warnings.append(error)
            else:
                self.fail(error)
            return None
        except ValueError as exc:
            self.fail(
                SpecError(str(exc), pointer=to_pointer(ref_path), line=source.line_of(ref_path), file=source.path)
            )
            return None
        if file not in self.files:
            self.fail(
                SpecError(
                    f"$ref {ref!r}: {file} is not among the uploaded files",
                    pointer=to_pointer(ref_path),
                    line=source.line_of(ref_path),
                    file=source.path,
                )
            )
            return None
        if file == self.main and source.path == self.main:
            return (file, path)  # internal: checked on the bundled document
        try:
            return self._canonical(file, path)
        except SpecInvalid as exc:
            for error in exc.errors:
                self.fail(error)
        except (KeyError, ValueError) as exc:
            message = f"cannot be resolved: {exc.args[0]}" if isinstance(exc, ValueError) else "resolves to nothing"
            self.fail(
                SpecError(
                    f"$ref {ref!r} {message}",
                    pointer=to_pointer(ref_path),
                    line=source.line_of(ref_path),
                    file=source.path,
                )
            )
        return None

    def _canonical(self, file: str, path: Path) -> Target:
        """Follow `$ref`s met on the way to a value, so each value has one name: (file, path)."""
        for _ in range(_MAX_REF_HOPS):
            source = self.source(file)
            if source is None:
                raise ValueError(f"goes through {file}, which is not among the uploaded files")
            current = source.data
            for index, part in enumerate(path):
                if isinstance(current, dict) and isinstance(current.get("$ref"), str):
                    ref_file, ref_path = ref_target(file, current["$ref"])
                    if ref_file not in self.files:
                        raise ValueError(f"goes through {ref_file}, which is not among the uploaded files")
                    file, path = ref_file, (*ref_path, *path[index:])
                    break
                current = resolve_path(current, [part])
            else:
                return file, tuple(_typed(source.data, path))
        raise ValueError("goes through too many $refs (circular?)")

    # --- building the bundled document --------------------------------------------------------------------

    def build(self) -> tuple[Any, dict[Path, Target]]:
        return self._node(self.sources[self.main].data, self.main, (), (), 0), self.placements

    def _node(self, value: Any, file: str, src: Path, out: Path, depth: int) -> Any:
        if depth > self.limits.max_bundled_depth:
            raise SpecInvalid(
                [
                    SpecError(
                        f"the bundled document nests deeper than {self.limits.max_bundled_depth} levels",
                        pointer=to_pointer(out),
                        file=file,
                        line=self.sources[file].line_of(src),
                    )
                ]
            )
        if file != self.main:
            key = (file, src)
            if key in self.wanted and key not in self.placed:
                self.placed[key] = out
                self.placements[out] = key
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str):
                return self._ref(value, ref, file, src, out, depth)
            result = {}
            first = _FIRST.get(src, ()) if file == self.main else ()
            for key in [k for k in first if k in value] + [k for k in value if k not in first]:
                child = value[key]
                if _is_literal(key, src) or not isinstance(child, dict | list):
                    result[key] = child
                else:
                    result[key] = self._node(child, file, (*src, key), (*out, key), depth + 1)
            return {key: result[key] for key in value}
        if isinstance(value, list):
            return [
                self._node(child, file, (*src, index), (*out, index), depth + 1)
                if isinstance(child, dict | list)
                else child
                for index, child in enumerate(value)
            ]
        return value

    def _ref(self, value: dict, ref: str, file: str, src: Path, out: Path, depth: int) -> Any:
        siblings = {
            key: self._node(child, file, (*src, key), (*out, key), depth + 1)
            if isinstance(child, dict | list)
            else child
            for key, child in value.items()
            if key != "$ref"
        }
        target = self.targets.get((file, ref))
        if target is None:  # refused: reported already
            return {"$ref": ref, **siblings}
        target_file, target_path = target
        if target_file == self.main:
            internal = ref if file == self.main and ref.startswith("#") else "#" + to_pointer(target_path)
            return {"$ref": internal, **siblings}
        placed = self.placed.get(target)
        if placed is not None:
            return {"$ref": "#" + to_pointer(placed), **siblings}
        content = self.sources[target_file].resolve(target_path)
        inlined = self._node(content, target_file, target_path, out, depth)
        if siblings and isinstance(inlined, dict):
            return {**inlined, **siblings}
        return inlined

    # --- checking the internal references of the result ---------------------------------------------------

    def check_internal(self, document: Any, placements: dict[Path, Target]) -> None:
        bundle = Bundle(document, self.main, self.sources, placements)
        chains: dict[str, bool] = {}
        for where, ref in iter_refs(document):
            if not ref.startswith("#"):
                continue  # an external $ref that was refused: reported already
            try:
                target = resolve_path(document, from_pointer(unquote(ref[1:])))
            except (KeyError, ValueError):
                self.fail(bundle.error((*where, "$ref"), f"$ref {ref!r} resolves to nothing"))
                continue
            if (
                isinstance(target, dict)
                and isinstance(target.get("$ref"), str)
                and not self._ends(document, ref, chains)
            ):
                self.fail(bundle.error((*where, "$ref"), f"$ref {ref!r} is a circular chain of $refs to $refs"))

    def _ends(self, document: Any, ref: str, chains: dict[str, bool]) -> bool:
        """Whether following `$ref` after `$ref` from `ref` reaches something that is not a `$ref`."""
        seen: list[str] = []
        current = ref
        while True:
            if current in chains:
                result = chains[current]
                break
            if current in seen or len(seen) > _MAX_REF_HOPS:
                result = False
                break
            if not current.startswith("#"):
                result = True  # an external $ref that was refused: reported already
                break
            seen.append(current)
            try:
                target = resolve_path(document, from_pointer(unquote(current[1:])))
            except (KeyError, ValueError):
                result = True  # reported as unresolvable on its own
                break
            if not (isinstance(target, dict) and isinstance(target.get("$ref"), str)):
                result = True
                break
            current = target["$ref"]
        for item in seen:
            chains[item] = result
        return result


def _typed(data: Any, path: Path) -> list[str | int]:
    out: list[str | int] = []
    current = data
    for part in path:
        if isinstance(current, list):
            out.append(int(part))
            current = current[int(part)]
        else:
            out.append(str(part))
            current = current[str(part)]
    return out


def bundle(
    main: str,
    files: dict[str, str],
    limits: Limits | None = None,
    *,
    parsed: dict[str, Source] | None = None,
    url_refs: str = "keep",
) -> Bundle:
    """Bundle `files` from `main`; raise SpecInvalid listing every problem found.

    `url_refs`: "keep" leaves `$ref`s to http(s) URLs in place (never fetched) with a warning each;
    "refuse" makes them errors."""
    limits = limits or Limits()
    files = {normalise_path(path): text for path, text in files.items()}
    main = normalise_path(main)
    if main not in files:
        raise SpecInvalid([SpecError(f"the main file {main!r} is not among the files")])
    check_sizes(files, limits)
    bundler = _Bundler(main, files, limits, parsed, url_refs)
    bundler.scan()
    if bundler.errors or main not in bundler.sources:
        raise SpecInvalid(bundler.errors, omitted=bundler.omitted)
    if bundler.external:
        document, placements = bundler.build()
    else:
        document, placements = bundler.sources[main].data, {}
    bundler.check_internal(document, placements)
    if bundler.errors:
        raise SpecInvalid(bundler.errors, omitted=bundler.omitted)
    return Bundle(document, main, bundler.sources, placements, bundler.warnings)
