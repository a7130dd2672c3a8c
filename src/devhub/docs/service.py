"""Guides: markdown pages attached to a catalog entity, and how they become safe HTML with navigation.

Three sources, one table (`docs_guides`):

* `portal`: written in the portal (pages and `PUT /api/v1/docs/.../guides/{slug}`); the only editable ones;
* `folder`: the `docs/` folder next to a definition published from a directory, zip or git path
  (`import_folder_guides`, called by the specs domain);
* `techdocs`: the docs-as-code folder named by `backstage.io/techdocs-ref: dir:...`, read by the catalog
  importer and handed over in `sync_techdocs`.

Imported folders keep their shape: a page's slug is its path without `.md` (`guides/auth.md` → `guides/auth`),
its title comes from the mkdocs `nav` or its first `# ` heading, its order from the `nav` (else alphabetical,
`index` first). Relative links between pages are rewritten to the portal's page URLs when rendering, so the
stored markdown stays the author's; images cannot be served (nor loaded from elsewhere, under the pages'
content policy) and show their alt text.

Access (identity.policy): guides are read by whoever may see their entity (others get the same 404 as for an
entity that does not exist) and written by its owner team (`guides.write`). Functions that take a `viewer`
check both; without one (imports, the CLI, tests) nothing is checked.

Every write here re-indexes the entity's guides for search. Nothing commits: the caller owns the transaction.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from devhub.catalog.kinds import RefError, parse_ref
from devhub.catalog.models import Entity
from devhub.db import utcnow
from devhub.docs.models import Guide
from devhub.identity.policy import Principal, can, entity_visible, require
from devhub.markdown import sanitise_html
from devhub.problems import NotFound, Problem
from devhub.yamlload import YamlError, load_documents

SOURCES = ("portal", "folder", "techdocs")
SOURCE_LABELS = {
    "portal": "Written in the portal",
    "folder": "Read from the docs folder next to the API definition",
    "techdocs": "Read from the docs-as-code folder",
}
TECHDOCS_REF = "backstage.io/techdocs-ref"

MAX_SLUG_LENGTH = 200
MAX_TITLE_LENGTH = 200
MAX_BODY_LENGTH = 200_000  # characters, for guides written in the portal
MAX_IMPORTED_BODY_LENGTH = 1_000_000  # imported pages are cut here
MAX_POSITION = 100_000
MAX_NAV_DEPTH = 16
# A slug that would read as one of the page routes (`.../new`, `.../{slug}/edit`, `.../{slug}/delete`).
RESERVED_SLUGS = frozenset({"new", "edit", "delete"})
ROUTE_SUFFIXES = frozenset({"edit", "delete"})  # reserved as the last segment of any slug; `new` only alone

_SEGMENT = r"[a-z0-9]+(?:-[a-z0-9]+)*"
SLUG_PATTERN = re.compile(rf"^{_SEGMENT}$")
PATH_SLUG_PATTERN = re.compile(rf"^{_SEGMENT}(?:/{_SEGMENT})*$")
MARKDOWN_SUFFIXES = (".md", ".markdown")
MKDOCS_FILES = ("mkdocs.yml", "mkdocs.yaml")


# --- Errors -------------------------------------------------------------------------------------


class GuideInvalid(Problem):
    """What is wrong with a guide, per field (`slug`, `title`, `body`, `position`): a 422 problem."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        detail = "; ".join(f"{name}: {message}" for name, message in fields.items())
        errors = [{"pointer": f"/{name}", "detail": message} for name, message in fields.items()]
        super().__init__(422, "Invalid guide", detail, errors=errors)


class GuideReadOnly(Problem):
    def __init__(self, guide: Guide) -> None:
        where = "the docs-as-code folder" if guide.source == "techdocs" else "the docs folder next to the definition"
        path = f" ({guide.source_path})" if guide.source_path else ""
        super().__init__(
            409,
            "Guide is read-only",
            f"{guide.slug} is read from {where}{path}; change it there and refresh the catalog.",
            source=guide.source,
        )


# --- URLs ---------------------------------------------------------------------------------------


def _ref_parts(entity_ref: str) -> tuple[str, str, str]:
    """(namespace, kind, name) of a `kind:namespace/name` ref."""
    try:
        parsed = parse_ref(entity_ref)
    except RefError as exc:
        raise NotFound(str(exc)) from None
    return parsed.namespace, parsed.kind, parsed.name


def docs_url(entity_ref: str) -> str:
    """The guides index of an entity: `/docs/{namespace}/{kind}/{name}`."""
    namespace, kind, name = _ref_parts(entity_ref)
    return "/docs/" + "/".join(quote(part.lower(), safe="") for part in (namespace, kind, name))


def guide_url(entity_ref: str, slug: str) -> str:
    return f"{docs_url(entity_ref)}/{quote(slug, safe='/')}"


def api_docs_url(entity_ref: str) -> str:
    namespace, kind, name = _ref_parts(entity_ref)
    return "/api/v1/docs/" + "/".join(quote(part.lower(), safe="") for part in (namespace, kind, name)) + "/guides"


# --- Reading ------------------------------------------------------------------------------------


def get_entity(session: Session, namespace: str, kind: str, name: str, viewer: Principal | None = None) -> Entity:
    """The catalog entity guides hang off; a 404 problem when it is not in the catalog, or when `viewer` is
    given and may not see it (the same answer, so a private entity's name is not confirmed)."""
    ref = f"{kind}:{namespace}/{name}".lower()
    entity = session.scalar(select(Entity).where(Entity.ref == ref))
    if entity is None or (viewer is not None and not _visible(session, viewer, entity)):
        raise NotFound(f"{ref} is not in the catalog")
    return entity


def _visible(session: Session, viewer: Principal, entity: Entity) -> bool:
    from devhub.catalog.service import access_teams

    return entity_visible(viewer, entity, set(access_teams(session, entity.id)))


def can_write(viewer: Principal | None, entity: Entity) -> bool:
    """Whether the viewer may write and delete the entity's portal guides (its owner team, and admins)."""
    return viewer is None or can(viewer, "guides.write", entity.owner_ref)


def _entity_by_ref(session: Session, entity_ref: str, viewer: Principal | None = None) -> Entity:
    namespace, kind, name = _ref_parts(entity_ref)
    entity = get_entity(session, namespace, kind, name, viewer)
    if viewer is not None:
        require(viewer, "guides.write", entity.owner_ref)
    return entity


def list_guides(session: Session, entity_ref: str) -> list[Guide]:
    """The entity's guides in reading order: position, then title, then slug."""
    query = select(Guide).where(Guide.entity_ref == entity_ref.lower())
    return list(session.scalars(query.order_by(Guide.position, Guide.title, Guide.slug)))


def find_guide(session: Session, entity_ref: str, slug: str) -> Guide | None:
    return session.scalar(select(Guide).where(Guide.entity_ref == entity_ref.lower(), Guide.slug == slug))


def get_guide(session: Session, entity_ref: str, slug: str) -> Guide:
    guide = find_guide(session, entity_ref, slug)
    if guide is None:
        raise NotFound(f"{entity_ref.lower()} has no guide {slug!r}")
    return guide


# --- Writing (portal guides) --------------------------------------------------------------------


def validate_guide(slug: str, title: str, body: str, position: Any) -> dict[str, str]:
    """Field errors of a portal guide; empty when it is fine."""
    errors: dict[str, str] = {}
    if not slug:
        errors["slug"] = "Give the guide a slug: it is the last part of the page's address."
    elif len(slug) > MAX_SLUG_LENGTH:
        errors["slug"] = f"At most {MAX_SLUG_LENGTH} characters."
    elif not SLUG_PATTERN.match(slug):
        errors["slug"] = "Use lowercase letters a-z, digits and single dashes, e.g. getting-started."
    elif slug in RESERVED_SLUGS:
        errors["slug"] = f"{slug!r} is reserved; choose another slug."
    if not title.strip():
        errors["title"] = "Give the guide a title."
    elif len(title) > MAX_TITLE_LENGTH:
        errors["title"] = f"At most {MAX_TITLE_LENGTH} characters (this one has {len(title)})."
    elif any(unicodedata.category(c) == "Cc" for c in title):
        errors["title"] = "A title is one line of text."
    if not body.strip():
        errors["body"] = "Write the guide: the body is empty."
    elif len(body) > MAX_BODY_LENGTH:
        errors["body"] = f"At most {MAX_BODY_LENGTH:,} characters (this one has {len(body):,})."
    elif "\x00" in body:
        errors["body"] = "The body contains a NUL character."
    if not isinstance(position, int) or isinstance(position, bool):
        errors["position"] = "A whole number."
    elif not 0 <= position <= MAX_POSITION:
        errors["position"] = f"Between 0 and {MAX_POSITION:,}."
    return errors


def slugify(text: str) -> str:
    """A suggested slug for a title: `Getting Started!` → `getting-started`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:MAX_SLUG_LENGTH].strip("-")


def save_guide(
    session: Session,
    entity_ref: str,
    slug: str,
    title: str,
    body: str,
    position: int = 0,
    author: str | None = None,
    *,
    previous_slug: str | None = None,
    viewer: Principal | None = None,
) -> Guide:
    """Create or update a portal guide (`previous_slug` renames one). The entity must be in the catalog (404);
    guides read from folders cannot be changed here (409); bad fields are a 422 with `fields`; a `viewer`
    must be allowed to write the entity's guides (401/403)."""
    entity = _entity_by_ref(session, entity_ref, viewer)
    title = title.strip() if isinstance(title, str) else ""
    body = body.replace("\r\n", "\n") if isinstance(body, str) else ""
    slug = (slug or "").strip()
    errors = validate_guide(slug, title, body, position)
    if errors:
        raise GuideInvalid(errors)
    current = find_guide(session, entity.ref, previous_slug or slug)
    if previous_slug and current is None:
        raise NotFound(f"{entity.ref} has no guide {previous_slug!r}")
    if current is not None and current.source != "portal":
        raise GuideReadOnly(current)
    if current is not None and current.slug != slug and find_guide(session, entity.ref, slug) is not None:
        raise Problem(409, "Slug taken", f"{entity.ref} already has a guide {slug!r}.")
    if current is None:
        current = Guide(entity_ref=entity.ref, slug=slug, source="portal", source_path=None)
        session.add(current)
    current.slug = slug
    current.title = title
    current.body = body
    current.position = position
    current.updated_at = utcnow()
    current.updated_by = (author or "")[:255] or None
    session.flush()
    index_guides(session, entity.ref)
    return current


def delete_guide(session: Session, entity_ref: str, slug: str, *, viewer: Principal | None = None) -> None:
    """Delete a portal guide: 404 when there is none, 409 for a guide read from a folder, 401/403 when a
    `viewer` may not write the entity's guides."""
    entity = _entity_by_ref(session, entity_ref, viewer)
    guide = get_guide(session, entity.ref, slug)
    if guide.source != "portal":
        raise GuideReadOnly(guide)
    session.delete(guide)
    session.flush()
    index_guides(session, entity.ref)


# --- Imported folders ---------------------------------------------------------------------------


@dataclass
class ImportedPage:
    path: str  # relative to the folder handed over (what `source_path` keeps)
    slug: str
    title: str
    body: str
    position: int


def _is_markdown(path: str) -> bool:
    return path.lower().endswith(MARKDOWN_SUFFIXES)


def _clean_path(path: str) -> str | None:
    """A normalised relative path, or None for one that leaves the folder or is absolute."""
    if not isinstance(path, str) or not path or "\x00" in path or path.startswith(("/", "\\")) or "://" in path:
        return None
    cleaned = posixpath.normpath(path.replace("\\", "/"))
    if cleaned in (".", "..") or cleaned.startswith("../"):
        return None
    return cleaned


_TAG = re.compile(r"(?<=[\s:\-\[,{])!!?[A-Za-z][\w/.:-]*")


def load_mkdocs_config(text: str) -> dict:
    """The mkdocs.yml mapping, read with the untrusted-YAML limits. Tags such as `!ENV` or `!!python/name:`
    (common in mkdocs files, refused by a safe loader) are dropped on a second try; {} when unreadable."""
    for attempt in (text, _TAG.sub("", text)):
        try:
            documents = list(load_documents(attempt))
        except YamlError:
            continue
        first = documents[0].data if documents else None
        return first if isinstance(first, dict) else {}
    return {}


def nav_entries(config: dict) -> list[tuple[str, str | None]]:
    """The pages named in an mkdocs `nav`, in order: (path relative to docs_dir, title or None).
    Sections are flattened; external links and malformed entries are skipped."""
    found: list[tuple[str, str | None]] = []

    def walk(items: Any, depth: int) -> None:
        if depth > MAX_NAV_DEPTH or not isinstance(items, list):
            return
        for item in items:
            if isinstance(item, str):
                add(item, None)
            elif isinstance(item, dict):
                for title, value in item.items():
                    if isinstance(value, str):
                        add(value, str(title) if title is not None else None)
                    elif isinstance(value, list):
                        walk(value, depth + 1)

    def add(path: str, title: str | None) -> None:
        cleaned = _clean_path(path.strip())
        if cleaned and _is_markdown(cleaned):
            found.append((cleaned, title.strip() if title and title.strip() else None))

    walk(config.get("nav"), 0)
    return found


def _docs_root(paths: Iterable[str], config: dict) -> str:
    """Where the pages live inside the folder: mkdocs' `docs_dir` (default `docs`) when pages are there,
    else the folder itself (the markdown files sit next to mkdocs.yml)."""
    configured = config.get("docs_dir") if isinstance(config.get("docs_dir"), str) else None
    paths = list(paths)
    for candidate in (configured, "docs"):
        cleaned = _clean_path(candidate) if candidate else None
        if cleaned and any(p.startswith(cleaned + "/") for p in paths):
            return cleaned + "/"
    return ""


def _segment(text: str) -> str:
    return slugify(text) or "page"


def _page_slug(relative: str) -> str:
    stem = relative.rsplit(".", 1)[0]
    segments = [_segment(part) for part in stem.split("/") if part]
    if segments[-1] in ROUTE_SUFFIXES or segments == ["new"]:
        segments[-1] += "-page"
    slug = "/".join(segments)
    return slug[:MAX_SLUG_LENGTH].rstrip("/-") or "page"


def first_heading(markdown: str) -> str | None:
    """The text of the first level-1 heading (`# Title` or setext), if any."""
    tokens = _renderer().parse(markdown)
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h1" and index + 1 < len(tokens):
            text = _inline_text(tokens[index + 1].children or []).strip()
            return text or None
    return None


def _humanise(relative: str) -> str:
    stem = posixpath.basename(relative).rsplit(".", 1)[0]
    if stem.lower() in ("index", "readme"):
        parent = posixpath.basename(posixpath.dirname(relative))
        return _humanise(parent) if parent else "Home"
    words = re.sub(r"[-_\s]+", " ", stem).strip()
    return (words[:1].upper() + words[1:]) if words else "Page"


def _alphabetical_key(relative: str) -> tuple:
    directory, name = posixpath.split(relative.lower())
    is_index = name.rsplit(".", 1)[0] in ("index", "readme")
    return (tuple(directory.split("/")) if directory else (), 0 if is_index else 1, name)


def build_pages(files: dict[str, str], taken_slugs: Iterable[str] = ()) -> list[ImportedPage]:
    """The guides a folder of markdown files makes: slug, title and order (see the module docstring).
    `taken_slugs` are used by guides of other sources; a page that would clash gets a `-2` suffix."""
    files = {cleaned: text for path, text in (files or {}).items() if (cleaned := _clean_path(path)) is not None}
    config: dict = {}
    for name in MKDOCS_FILES:
        if isinstance(files.get(name), str):
            config = load_mkdocs_config(files[name])
            break
    markdown = {path: text for path, text in files.items() if _is_markdown(path) and isinstance(text, str)}
    root = _docs_root(markdown, config)
    pages = {path[len(root) :]: path for path in markdown if path.startswith(root)}

    order: dict[str, int] = {}
    nav_titles: dict[str, str] = {}
    for relative, title in nav_entries(config):
        if relative in pages and relative not in order:
            order[relative] = len(order)
            if title:
                nav_titles[relative] = title
    rest = sorted((p for p in pages if p not in order), key=_alphabetical_key)
    for relative in rest:
        order[relative] = len(order)

    used = set(taken_slugs)
    built: list[ImportedPage] = []
    for relative, position in sorted(order.items(), key=lambda item: item[1]):
        source_path = pages[relative]
        body = markdown[source_path].replace("\r\n", "\n").replace("\x00", "")[:MAX_IMPORTED_BODY_LENGTH]
        slug = base = _page_slug(relative)
        n = 2
        while slug in used:
            slug = f"{base[: MAX_SLUG_LENGTH - 6]}-{n}"
            n += 1
        used.add(slug)
        title = nav_titles.get(relative) or first_heading(body) or _humanise(relative)
        title = " ".join(title.split())[:MAX_TITLE_LENGTH] or _humanise(relative)
        built.append(ImportedPage(path=source_path, slug=slug, title=title, body=body, position=position))
    return built


def _replace_imported(session: Session, entity_ref: str, source: str, files: dict[str, str] | None) -> list[Guide]:
    entity_ref = entity_ref.lower()
    session.execute(delete(Guide).where(Guide.entity_ref == entity_ref, Guide.source == source))
    if not files:
        return []
    taken = session.scalars(select(Guide.slug).where(Guide.entity_ref == entity_ref, Guide.source != source))
    now = utcnow()
    guides = [
        Guide(
            entity_ref=entity_ref,
            slug=page.slug,
            title=page.title,
            body=page.body,
            position=page.position,
            source=source,
            source_path=page.path[:2048],
            updated_at=now,
            updated_by=None,
        )
        for page in build_pages(files, taken_slugs=list(taken))
    ]
    session.add_all(guides)
    session.flush()
    return guides


def import_folder_guides(session: Session, entity_ref: str, files: dict[str, str]) -> list[Guide]:
    """Replace the `folder` guides of `entity_ref` (an API ref such as `api:default/payments-api`) with the
    markdown files of the `docs/` folder next to its definition.

    `files` maps paths relative to that `docs/` folder (`index.md`, `guides/auth.md`; a leading `docs/` is
    fine too) to their text; an `mkdocs.yml` among them orders the pages. Other files are ignored, an empty
    mapping removes the folder guides. The entity need not be in the catalog yet: its guides show (and are
    searchable) once it is. Returns the guides written."""
    files = files or {}
    if files and all(isinstance(p, str) and p.startswith("docs/") for p in files):
        files = {path[len("docs/") :]: text for path, text in files.items()}
    guides = _replace_imported(session, entity_ref, "folder", files)
    index_guides(session, entity_ref)
    return guides


def sync_techdocs(session: Session, written: list, gone_refs: list[str]) -> None:
    """Replace the techdocs guides of changed entities; drop those of entities that left the catalog.

    `written` are the catalog's `ReadEntity`s that were added or changed: each one whose `docs_files` hold
    markdown gets its `techdocs` guides rebuilt from them; one without (annotation removed, an empty folder,
    or a location that is not a local tree) loses them. `gone_refs` lose theirs. Set-based for the common
    case of many entities and few docs folders: one query per 500 entities without pages.
    """
    touched: set[str] = set()
    stale = [r.lower() for r in gone_refs]
    for item in written:
        ref = item.entity.ref.lower()
        files = item.docs_files or {}
        if any(isinstance(path, str) and _is_markdown(path) for path in files):
            _replace_imported(session, ref, "techdocs", files)
            touched.add(ref)
        else:
            stale.append(ref)
    stale = list(dict.fromkeys(stale))
    for start in range(0, len(stale), 500):
        chunk = stale[start : start + 500]
        having = set(
            session.scalars(
                select(Guide.entity_ref).where(Guide.entity_ref.in_(chunk), Guide.source == "techdocs").distinct()
            )
        )
        if having:
            session.execute(delete(Guide).where(Guide.entity_ref.in_(having), Guide.source == "techdocs"))
            touched |= having
    for ref in sorted(touched):
        index_guides(session, ref)


def index_guides(session: Session, entity_ref: str) -> None:
    from devhub.search import service as search

    search.index_guides(session, entity_ref)


# --- Rendering ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    # The same configuration as devhub.markdown (raw HTML off); the output goes through the same nh3 cleaner.
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")


def _inline_text(children: Sequence[Token]) -> str:
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(_inline_text(child.children or []))
    return "".join(parts)


def heading_id(text: str) -> str:
    """mkdocs' default heading anchor: `Errors & retries` → `errors-retries`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^\w\s-]", "", ascii_text).strip().lower()
    return re.sub(r"[-\s]+", "-", cleaned) or "section"


@dataclass
class TocEntry:
    level: int
    anchor: str
    text: str


@dataclass
class RenderedGuide:
    html: Markup
    toc: list[TocEntry] = field(default_factory=list)


def page_path(guide: Guide) -> str:
    """Where a guide sits in its folder, for resolving its relative links."""
    if guide.source != "portal" and guide.source_path:
        return guide.source_path
    return f"{guide.slug}.md"


def _resolve_link(href: str, base: str, pages: dict[str, str], base_url: str) -> str | None:
    """The portal URL of a relative link between pages; the href itself when it is not relative;
    None when it points at something the portal cannot serve (a file, or outside the folder)."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith(("/", "#", "?")):
        return href
    path = unquote(parts.path)
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    target = posixpath.normpath(posixpath.join(posixpath.dirname(base), path))
    if target == ".." or target.startswith("../"):
        return None
    folder = "" if target == "." else target + "/"
    if path.endswith("/") or target == ".":
        candidates = [f"{folder}index.md", f"{folder}README.md", f"{target}.md"]
    elif _is_markdown(target):
        candidates = [target]
    else:
        candidates = [f"{target}.md", f"{target}/index.md"]
    for candidate in candidates:
        slug = pages.get(candidate) or pages.get(candidate.lower())
        if slug is not None:
            return f"{base_url}/{quote(slug, safe='/')}{fragment}"
    return None


def _rewrite_inline(children: list[Token], base: str, pages: dict[str, str], base_url: str) -> list[Token]:
    out: list[Token] = []
    dropping = False
    for child in children:
        if child.type == "link_open":
            href = child.attrGet("href")
            resolved = _resolve_link(str(href or ""), base, pages, base_url) if href else None
            if resolved is None:
                dropping = True
                continue
            child.attrSet("href", resolved)
        elif child.type == "link_close" and dropping:
            dropping = False
            continue
        elif child.type == "image":
            # Nothing is served from the folder, and the pages' content policy loads no other images.
            alt = _inline_text(child.children or [])
            if alt:
                replacement = Token("text", "", 0)
                replacement.content = alt
                out.append(replacement)
            continue
        out.append(child)
    return out


def render_guide(guide: Guide, guides: Sequence[Guide] = ()) -> RenderedGuide:
    """The guide's markdown as sanitised HTML, with heading anchors, links between pages rewritten to the
    portal's URLs (`guides` are the entity's other pages) and images as their alt text.

    A first `# heading` equal to the title is left out (the page shows the title); other level-1 headings
    become level 2, so a page keeps one h1."""
    md = _renderer()
    env: dict = {}
    tokens = md.parse(guide.body or "", env)
    pages = {page_path(g): g.slug for g in (*guides, guide)}
    pages.update({path.lower(): slug for path, slug in list(pages.items())})
    base = page_path(guide)
    base_url = docs_url(guide.entity_ref)
    used: dict[str, int] = {}
    toc: list[TocEntry] = []
    skip_first = False
    for index, token in enumerate(tokens):
        if token.type == "inline" and token.children is not None:
            token.children = _rewrite_inline(token.children, base, pages, base_url)
        if token.type != "heading_open" or index + 1 >= len(tokens):
            continue
        text = _inline_text(tokens[index + 1].children or []).strip()
        if index == 0 and token.tag == "h1" and " ".join(text.split()).lower() == guide.title.strip().lower():
            skip_first = True
            continue
        anchor = heading_id(text)
        count = used.get(anchor, 0)
        used[anchor] = count + 1
        if count:
            anchor = f"{anchor}_{count}"
        token.attrSet("id", anchor)
        if token.tag == "h1":
            token.tag = "h2"
            tokens[index + 2].tag = "h2"
        if token.tag in ("h2", "h3"):
            toc.append(TocEntry(int(token.tag[1]), anchor, text))
    if skip_first:
        tokens = tokens[3:]
    html = md.renderer.render(tokens, md.options, env)
    return RenderedGuide(html=Markup(sanitise_html(html)), toc=toc)


# --- Navigation ---------------------------------------------------------------------------------


@dataclass
class NavItem:
    title: str
    slug: str | None = None  # None for a section (a folder of pages)
    url: str | None = None
    current: bool = False
    children: list[NavItem] = field(default_factory=list)


def nav_tree(guides: Sequence[Guide], current_slug: str | None = None) -> list[NavItem]:
    """The guides as a tree for the sidebar: in reading order, each folder of a slug (`guides/auth`) a section
    placed where its first page comes."""
    root: list[NavItem] = []
    sections: dict[tuple[str, ...], NavItem] = {}
    for guide in guides:
        *folders, _ = guide.slug.split("/")
        siblings = root
        for depth in range(len(folders)):
            key = tuple(folders[: depth + 1])
            section = sections.get(key)
            if section is None:
                section = sections[key] = NavItem(title=_humanise(folders[depth] + ".md"))
                siblings.append(section)
            siblings = section.children
        siblings.append(
            NavItem(
                title=guide.title,
                slug=guide.slug,
                url=guide_url(guide.entity_ref, guide.slug),
                current=guide.slug == current_slug,
            )
        )
    return root


def neighbours(guides: Sequence[Guide], current: Guide) -> tuple[Guide | None, Guide | None]:
    """The previous and next guide in reading order (for links at the foot of a page)."""
    ordered = _reading_order(nav_tree(guides))
    slugs = [item.slug for item in ordered]
    by_slug = {g.slug: g for g in guides}
    if current.slug not in slugs:
        return None, None
    at = slugs.index(current.slug)
    before = by_slug.get(slugs[at - 1]) if at > 0 else None
    after = by_slug.get(slugs[at + 1]) if at + 1 < len(slugs) else None
    return before, after


def _reading_order(items: list[NavItem]) -> list[NavItem]:
    out: list[NavItem] = []
    for item in items:
        if item.slug is not None:
            out.append(item)
        out.extend(_reading_order(item.children))
    return out


def source_note(guide: Guide, entity: Entity | None) -> str | None:
    """Where a read-only guide comes from, for the page: None for portal guides."""
    if guide.source == "portal":
        return None
    annotations = {}
    if entity is not None:
        annotations = (entity.body or {}).get("metadata", {}).get("annotations") or {}
    if guide.source == "techdocs":
        ref = annotations.get(TECHDOCS_REF)
        where = (
            f"the docs-as-code folder ({TECHDOCS_REF}: {ref})" if isinstance(ref, str) else "the docs-as-code folder"
        )
    else:
        where = "the docs folder next to the API definition"
    path = f" file {guide.source_path}" if guide.source_path else ""
    return f"Read from{path} in {where}. Edit it there; the portal shows the latest import."
