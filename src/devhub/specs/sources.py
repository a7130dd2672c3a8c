"""Where a definition's files come from: one file, a directory, a zip, or a path in a git repository.

Each gives `(main path, {relative path: text})` for the bundler. Directories and git checkouts are read
from the main file outward, following relative `$ref`s, confined to the root (symlinks out of it are
refused by `catalog.ingest.LocalTree`), so publishing one API from a large repository reads only its
files. Zips are read whole, after checks: no absolute paths, no `..`, no symlinks, bounded entry count,
bounded uncompressed size and compression ratio (zip bombs), sizes enforced while reading.

Each also gives the API's guides: the markdown files (and an `mkdocs.yml` ordering them) of the `docs/`
folder next to the main file, read with the same confinement and limits; None when the input is a lone
uploaded file, which has no folder around it.
"""

from __future__ import annotations

import io
import posixpath
import re
import stat
import zipfile
import zlib
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from devhub.catalog import ingest
from devhub.specs.bundle import iter_refs, normalise_path, ref_target
from devhub.specs.errors import SpecError, SpecInvalid, invalid
from devhub.specs.limits import Limits
from devhub.specs.parse import Source, parse_source

SPEC_SUFFIXES = (".yaml", ".yml", ".json")
GUIDE_FOLDER = "docs"
MAX_NAV_BYTES = 256 * 1024
_YAML_FIELD = re.compile(r"^[\"']?(openapi|swagger|asyncapi)[\"']?[ \t]*:", re.MULTILINE)
_JSON_FIELD = re.compile(r'"(openapi|swagger|asyncapi)"\s*:')


def decode(raw: bytes, path: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise invalid("is not UTF-8 text", file=path) from None


def is_definition(text: str) -> bool:
    """Whether a file looks like a definition's main file: a top-level openapi, swagger or asyncapi field."""
    head = text[:65536]
    if head.lstrip().startswith("{"):
        return bool(_JSON_FIELD.search(head))
    return bool(_YAML_FIELD.search(head))


def find_main(files: dict[str, str], hint: str | None = None) -> str:
    """The main file: `hint` when given, else the one definition file nearest the root."""
    if hint:
        main = normalise_path(hint)
        if main not in files:
            raise invalid(f"the main file {hint!r} is not among the files ({_names(files)})")
        return main
    candidates = [path for path, text in files.items() if path.lower().endswith(SPEC_SUFFIXES) and is_definition(text)]
    if not candidates:
        raise invalid(f"no OpenAPI, Swagger or AsyncAPI file found among {_names(files)}")
    shallowest = min(path.count("/") for path in candidates)
    top = sorted(path for path in candidates if path.count("/") == shallowest)
    if len(top) > 1:
        raise invalid(f"several definition files: {', '.join(top[:10])}; name the main one")
    return top[0]


def _names(files: dict[str, str]) -> str:
    names = sorted(files)
    return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "") if names else "none"


# --- following $refs from the main file ------------------------------------------------------------------


def collect(read: Callable[[str], bytes | None], main: str, limits: Limits) -> tuple[dict[str, str], dict[str, Source]]:
    """Read the main file and every file it reaches through relative `$ref`s. Files that are missing or
    refused are left out: the bundler reports each with the `$ref` that named it."""
    files: dict[str, str] = {}
    parsed: dict[str, Source] = {}
    total = 0
    queue = deque([main])
    seen = {main}
    while queue:
        path = queue.popleft()
        raw = read(path)
        if raw is None:
            if path == main:
                raise invalid(f"{main} does not exist")
            continue
        total += len(raw)
        if total > limits.max_bytes:
            raise SpecInvalid(
                [SpecError(f"the definition's files exceed {limits.max_bytes:,} bytes", file=path)], status=413
            )
        files[path] = decode(raw, path)
        try:
            source = parsed[path] = parse_source(path, files[path], limits)
        except SpecInvalid:
            continue  # reported again, with the others, when bundling
        for _, ref in iter_refs(source.data):
            try:
                target, _ = ref_target(path, ref)
            except ValueError:
                continue
            if target not in seen:
                if len(seen) >= limits.max_files:
                    raise SpecInvalid(
                        [SpecError(f"the definition reaches more than {limits.max_files} files")], status=413
                    )
                seen.add(target)
                queue.append(target)
    return files, parsed


def confined(root: Path, path: str) -> Path | None:
    """`path` under `root`, or None when it (or a symlink on the way) leads outside."""
    resolved_root = root.resolve()
    target = (resolved_root / path).resolve()
    return target if target.is_relative_to(resolved_root) else None


def tree_reader(root: Path, limits: Limits) -> Callable[[str], bytes | None]:
    def read(path: str) -> bytes | None:
        target = confined(root, path)
        if target is None or not target.is_file():
            return None
        if target.stat().st_size > limits.max_bytes:
            raise SpecInvalid([SpecError(f"is larger than {limits.max_bytes:,} bytes", file=path)], status=413)
        return target.read_bytes()

    return read


# --- the kinds of input ----------------------------------------------------------------------------------


class Loaded(NamedTuple):
    main: str
    files: dict[str, str]
    parsed: dict[str, Source]  # the files already parsed while following $refs
    guides: dict[str, str] | None  # the docs/ folder next to the main file (relative paths); None: no folder


def is_guide_file(path: str) -> bool:
    name = posixpath.basename(path).lower()
    return name.endswith((".md", ".markdown")) or name in ("mkdocs.yml", "mkdocs.yaml")


def guide_folder(main: str) -> str:
    return normalise_path(posixpath.join(posixpath.dirname(main), GUIDE_FOLDER))


def guides_in_tree(root: Path, main: str, limits: Limits) -> dict[str, str]:
    """The guide files of the `docs/` folder next to `main` in a local tree (symlinks out of it skipped)."""
    folder = confined(root, guide_folder(main))
    if folder is None or not folder.is_dir():
        return {}
    guides: dict[str, str] = {}
    total = 0
    for candidate in sorted(folder.rglob("*")):
        relative = candidate.relative_to(folder)
        if not is_guide_file(candidate.name) or any(part.startswith(".") for part in relative.parts):
            continue
        if not candidate.is_file() or not candidate.resolve().is_relative_to(folder):
            continue
        if len(guides) >= limits.max_files:
            raise SpecInvalid([SpecError(f"the docs folder holds more than {limits.max_files} pages")], status=413)
        raw = candidate.read_bytes()
        total += len(raw)
        if total > limits.max_bytes:
            raise SpecInvalid([SpecError(f"the docs folder exceeds {limits.max_bytes:,} bytes")], status=413)
        guides[relative.as_posix()] = decode(raw, f"{GUIDE_FOLDER}/{relative.as_posix()}")
    nav = confined(root, normalise_path(posixpath.join(posixpath.dirname(main), "mkdocs.yml")))
    if guides and nav is not None and nav.is_file() and nav.stat().st_size <= MAX_NAV_BYTES:
        guides.setdefault("mkdocs.yml", decode(nav.read_bytes(), "mkdocs.yml"))  # mkdocs' own layout: beside docs/
    return guides


def guides_in_files(files: dict[str, str], main: str) -> dict[str, str]:
    """The guide files among an archive's files: those under the `docs/` folder next to `main`."""
    prefix = guide_folder(main) + "/"
    guides = {
        path[len(prefix) :]: text for path, text in files.items() if path.startswith(prefix) and is_guide_file(path)
    }
    nav = normalise_path(posixpath.join(posixpath.dirname(main), "mkdocs.yml"))
    if guides and nav in files:
        guides.setdefault("mkdocs.yml", files[nav])
    return guides


def from_path(path: Path, main: str | None, limits: Limits) -> Loaded:
    """A local file (its directory is the tree), a directory (with `main` or the one definition at its
    top), or a .zip file."""
    path = path.expanduser()
    if not path.exists():
        raise invalid(f"{path} does not exist")
    if path.is_file() and path.suffix.lower() == ".zip":
        if path.stat().st_size > limits.max_bytes:
            raise SpecInvalid([SpecError(f"{path.name} is larger than {limits.max_bytes:,} bytes")], status=413)
        return from_zip(path.read_bytes(), main, limits)
    if path.is_file():
        root, entry = path.parent, path.name
    else:
        root, entry = path, main or find_main(_directory_candidates(path, limits))
    entry = normalise_path(entry)
    files, parsed = collect(tree_reader(root, limits), entry, limits)
    return Loaded(entry, files, parsed, guides_in_tree(root, entry, limits))


def _directory_candidates(root: Path, limits: Limits) -> dict[str, str]:
    """Spec-looking files of a directory, for finding the main file (their first 64 KB is enough)."""
    found: dict[str, str] = {}
    resolved = root.resolve()
    for candidate in sorted(root.rglob("*")):
        if len(found) > limits.max_files * 10:
            break
        if candidate.suffix.lower() not in SPEC_SUFFIXES or not candidate.is_file():
            continue
        if any(part.startswith(".") for part in candidate.relative_to(root).parts):
            continue
        if not candidate.resolve().is_relative_to(resolved):
            continue
        with candidate.open("rb") as handle:
            head = handle.read(65536)
        found[candidate.relative_to(root).as_posix()] = head.decode("utf-8", "replace")
    return found


def from_git(target: str, main: str | None, settings, limits: Limits, *, trusted: bool) -> Loaded:
    """`git+URL//path?ref=x`: the path is the main file, or a directory holding it. Cloned shallowly with
    the catalog's git rules (hosts, import roots for file:// when untrusted)."""
    repository = target.split("?ref=", 1)[0].split("://", 1)[-1]
    explicit_path = "//" in repository
    try:
        with ingest.open_location("git", target, settings, trusted=trusted) as (tree, entry):
            root = tree.root
            if not explicit_path:
                entry = "."  # the repository's root directory
            inside = confined(root, entry)
            if inside is None or not inside.exists():
                raise invalid(f"{entry} is not in the repository")
            if inside.is_dir():
                candidates = _directory_candidates(inside, limits)
                found = main or find_main(candidates)
                entry = normalise_path(posixpath.join(entry, found))
            elif main:
                entry = normalise_path(posixpath.join(posixpath.dirname(entry), main))
            entry = normalise_path(entry)
            files, parsed = collect(tree_reader(root, limits), entry, limits)
            return Loaded(entry, files, parsed, guides_in_tree(root, entry, limits))
    except ingest.LocationError as exc:
        raise invalid(str(exc)) from None


def from_zip(data: bytes, main: str | None, limits: Limits) -> Loaded:
    """The definition files and guides of a zip archive, after refusing anything unsafe in it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise invalid(f"not a valid zip file: {exc}") from None
    with archive:
        entries = [info for info in archive.infolist() if not info.is_dir()]
        if len(entries) > limits.max_files:
            raise SpecInvalid(
                [SpecError(f"the zip holds {len(entries)} files; at most {limits.max_files} are accepted")], status=413
            )
        declared = sum(info.file_size for info in entries)
        if declared > limits.max_bytes:
            raise SpecInvalid(
                [SpecError(f"the zip expands to {declared:,} bytes; at most {limits.max_bytes:,} are accepted")],
                status=413,
            )
        compressed = sum(info.compress_size for info in entries)
        if declared > 1_000_000 and declared > compressed * limits.max_zip_ratio:
            raise SpecInvalid(
                [SpecError(f"the zip's compression ratio is above {limits.max_zip_ratio}: refused as a zip bomb")],
                status=413,
            )
        files: dict[str, str] = {}
        total = 0
        for info in entries:
            name = _safe_name(info)
            if not name.lower().endswith(SPEC_SUFFIXES) and not is_guide_file(name):
                continue
            try:
                with archive.open(info) as handle:
                    raw = handle.read(limits.max_bytes - total + 1)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
                raise invalid(f"the zip entry {name!r} cannot be read: {exc}") from None
            total += len(raw)
            if total > limits.max_bytes:
                raise SpecInvalid([SpecError(f"the zip expands to more than {limits.max_bytes:,} bytes")], status=413)
            files[name] = decode(raw, name)
    files = _strip_common_folder(files)
    definitions = {path: text for path, text in files.items() if path.lower().endswith(SPEC_SUFFIXES)}
    if not definitions:
        raise invalid("the zip holds no .yaml, .yml or .json file")
    main_path = find_main(definitions, main)
    guides = guides_in_files(files, main_path)
    return Loaded(main_path, definitions, {}, guides)


def _safe_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        raise invalid(f"the zip entry {name!r} has an absolute or Windows path")
    if ".." in name.split("/"):
        raise invalid(f"the zip entry {name!r} leaves the archive's folder (..)")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise invalid(f"the zip entry {name!r} is a symbolic link")
    cleaned = normalise_path(name)
    if not cleaned:
        raise invalid(f"the zip entry {name!r} has no name")
    return cleaned


def _strip_common_folder(files: dict[str, str]) -> dict[str, str]:
    """`my-api/openapi.yaml`, `my-api/schemas/x.yaml` -> `openapi.yaml`, `schemas/x.yaml` (zips made of a folder)."""
    tops = {path.split("/", 1)[0] for path in files}
    if len(tops) == 1 and all("/" in path for path in files):
        return {path.split("/", 1)[1]: text for path, text in files.items()}
    return files
