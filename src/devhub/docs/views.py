"""Reference docs pages rendered from published definitions.

    /apis/{namespace}/{name}                                   -> 307 to the latest version (or an empty page)
    /apis/{namespace}/{name}/v/{version}                       overview
    /apis/{namespace}/{name}/v/{version}/operations/{anchor}   one operation
    /apis/{namespace}/{name}/v/{version}/schemas               schema browser (?q= filters)
    /apis/{namespace}/{name}/v/{version}/schemas/{schema}      one schema (`messages/{name}` for AsyncAPI)
    /apis/{namespace}/{name}/v/{version}/changes?from=OTHER    changes from OTHER (default: the previous)
    /apis/{namespace}/{name}/v/{version}/switch?to=V&page=P    the version switcher's target

Every page is also markdown: the same path with `.md`, or `Accept: text/markdown`. `?filter=` on any page
narrows the sidebar (the filter works without JavaScript). Derived view models and HTML fragments are
cached per version (`cache.py`); the lifecycle, the version switcher and the viewer-dependent parts are
rendered around the cached fragments on each request.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from sqlalchemy.orm import Session, object_session

from devhub.deps import get_session
from devhub.docs import cache, export
from devhub.docs.render import (
    Reference,
    build_reference,
    markdown,
    overview,
    path_breaks,
    schema_list,
    schema_page,
    slugify,
)
from devhub.identity.deps import get_principal
from devhub.identity.policy import Principal
from devhub.pagination import PageRequest
from devhub.problems import NotFound, Problem
from devhub.specs import service as specs_service
from devhub.specs.models import SpecVersion
from devhub.web import render, templates

router = APIRouter(include_in_schema=False)
templates.env.globals.setdefault("docs_slug", slugify)
templates.env.filters.setdefault("docs_markdown", markdown)
templates.env.filters.setdefault("docs_path", path_breaks)

MD = ".md"
OPEN_ALL_GROUPS_UP_TO = 40  # sidebars with this many operations or fewer show every group open
MAX_VERSIONS = 500


# -- data access -------------------------------------------------------------------------------------------


def _api_ref(namespace: str, name: str) -> str:
    return f"api:{namespace}/{name}".lower()


def _get_version(session: Session, api_ref: str, version: str) -> SpecVersion:
    return specs_service.get_version(session, api_ref, version)


def _latest_version(session: Session, api_ref: str) -> SpecVersion | None:
    return specs_service.latest_version(session, api_ref)


def _versions(session: Session, api_ref: str) -> list[SpecVersion]:
    """Every published version, newest first."""
    return list(specs_service.list_versions(session, api_ref, PageRequest(1, MAX_VERSIONS)).items)


def _check_visible(session: Session, namespace: str, name: str, viewer: Principal) -> Any:
    """The catalog entity of the API (or None when it has left the catalog: published versions outlive it).
    An entity the viewer may not see answers 404, as if it were not there."""
    from devhub.catalog import service as catalog_service

    try:
        entity = catalog_service.get_entity(session, "api", namespace, name)
    except NotFound:
        return None
    if not catalog_service.entity_visible(viewer, entity, set(catalog_service.access_teams(session, entity.id))):
        raise NotFound(f"{entity.ref} is not in the catalog")
    return entity


def _base(api_ref: str, version: str) -> str:
    namespace, name = api_ref.split(":", 1)[1].split("/", 1)
    return f"/apis/{quote(namespace, safe='')}/{quote(name, safe='')}/v/{quote(version, safe='')}"


def reference_of(version: SpecVersion) -> Reference:
    """The version's indexed document, from the cache or built (this loads the document)."""
    key = ("reference", *cache.version_key(version))

    def build() -> Reference:
        session = object_session(version)
        operations = specs_service.operations_of(session, version) if session is not None else version.operations
        rows = [(o.anchor, o.method, o.path, o.operation_id) for o in operations]
        return build_reference(
            version.bundled or {},
            format=version.format,
            format_version=version.format_version,
            title=version.title,
            base=_base(version.api_ref, version.version),
            rows=rows,
        )

    return cache.documents.get_or_build(key, build, lambda ref: _document_cost(ref.doc))


def _document_cost(doc: Any) -> int:
    import json

    try:
        return len(json.dumps(doc, separators=(",", ":"), default=str))
    except (TypeError, ValueError, RecursionError):
        return cache.DOCUMENT_BUDGET // 4


# -- content negotiation -----------------------------------------------------------------------------------


def prefers_markdown(request: Request) -> bool:
    """True when the Accept header asks for text/markdown at least as much as for text/html (wildcards do
    not count: browsers and API clients get HTML)."""
    best: dict[str, tuple[float, int]] = {}
    for position, part in enumerate(request.headers.get("accept", "").split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        if media in ("text/markdown", "text/html") and (media not in best or best[media][0] < q):
            best[media] = (q, position)
    markdown = best.get("text/markdown")
    if markdown is None or markdown[0] <= 0:
        return False
    html = best.get("text/html")
    return html is None or markdown[0] > html[0] or (markdown[0] == html[0] and markdown[1] < html[1])


def markdown_response(text: str) -> Response:
    return Response(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={"Vary": "Accept", "X-Content-Type-Options": "nosniff"},
    )


def _strip_md(value: str) -> tuple[str, bool]:
    return (value[: -len(MD)], True) if value.endswith(MD) and len(value) > len(MD) else (value, False)


# -- page context ------------------------------------------------------------------------------------------


@dataclass
class Docs:
    """What every page of one version needs."""

    session: Session
    namespace: str
    name: str
    api_ref: str
    version: SpecVersion
    entity: Any
    markdown: bool

    @property
    def base(self) -> str:
        return _base(self.api_ref, self.version.version)

    @property
    def reference(self) -> Reference:
        return reference_of(self.version)


def _open(
    request: Request, session: Session, viewer: Principal, namespace: str, name: str, version: str, *, suffix_ok: bool
) -> Docs:
    """The version named in the URL. With `suffix_ok`, a `.md` ending of the version selects markdown (a
    version literally ending in `.md` still wins when it exists)."""
    api_ref = _api_ref(namespace, name)
    entity = _check_visible(session, namespace, name, viewer)
    markdown = False
    try:
        row = _get_version(session, api_ref, version)
    except Problem as exc:
        stripped, had_suffix = _strip_md(version)
        if exc.status != 404 or not (suffix_ok and had_suffix):
            raise
        row = _get_version(session, api_ref, stripped)
        markdown = True
    namespace, name = api_ref.split(":", 1)[1].split("/", 1)
    return Docs(session, namespace, name, api_ref, row, entity, markdown or prefers_markdown(request))


def _fragment(docs: Docs, page: tuple, build) -> Markup:
    return Markup(cache.fragment(("html", *cache.version_key(docs.version), *page), build))


def _md(docs: Docs, page: tuple, build) -> Response:
    return markdown_response(cache.fragment(("md", *cache.version_key(docs.version), *page), build))


def _render_fragment(name: str, **context: Any) -> str:
    return templates.env.get_template(name).render(**context)


def _sidebar(docs: Docs, current_url: str | None, filter_text: str) -> Markup:
    ref = docs.reference
    filter_text = filter_text.strip()[:200]
    if filter_text:
        needle = filter_text.lower()
        groups = []
        for group in ref.groups:
            ops = [
                e
                for e in group.ops
                if needle in e.path.lower()
                or needle in (e.summary or "").lower()
                or needle in (e.operation_id or "").lower()
                or needle == e.method
            ]
            if ops:
                groups.append((group, ops))
        webhooks = [e for e in ref.webhooks if needle in e.path.lower() or needle in (e.summary or "").lower()]
        match_count = len({id(e) for _, ops in groups for e in ops} | {id(e) for e in webhooks})
        html = _render_fragment(
            "docs/fragments/sidebar.html",
            ref=ref,
            groups=groups,
            webhooks=webhooks,
            filtered=True,
            open_all=True,
            filter_text=filter_text,
            match_count=match_count,
        )
    else:
        html = cache.fragment(
            ("sidebar", *cache.version_key(docs.version)),
            lambda: _render_fragment(
                "docs/fragments/sidebar.html",
                ref=ref,
                groups=[(g, g.ops) for g in ref.groups],
                webhooks=ref.webhooks,
                filtered=False,
                open_all=len(ref.ops) <= OPEN_ALL_GROUPS_UP_TO,
                filter_text="",
                match_count=len(ref.ops),
            ),
        )
    if current_url:
        href = f'href="{escape(current_url)}"'
        html = html.replace(href, f'{href} aria-current="page"')
        entry = next((e for e in ref.ops + ref.webhooks if e.url == current_url), None)
        if entry is not None:
            for group in ref.groups:
                if entry in group.ops:
                    marker = f'data-group="{escape(group.slug)}"'
                    html = html.replace(marker + ">", marker + " open>", 1)
    return Markup(html)


def _page(
    request: Request,
    docs: Docs,
    *,
    page: str,
    title: str,
    content: Markup,
    samples: Markup | None = None,
    current_url: str | None = None,
    status_code: int = 200,
    **extra: Any,
) -> HTMLResponse:
    versions = _versions(docs.session, docs.api_ref)
    filter_text = request.query_params.get("filter", "")
    response = render(
        request,
        "docs/page.html",
        status_code=status_code,
        docs=docs,
        sv=docs.version,
        ref_title=docs.version.title,
        versions=versions,
        switch_page=page,
        page_title=title,
        content_html=content,
        samples_html=samples,
        sidebar_html=_sidebar(docs, current_url, filter_text),
        filter_text=filter_text.strip()[:200],
        current_path=request.url.path,
        catalog_url=f"/catalog/{quote(docs.namespace, safe='')}/api/{quote(docs.name, safe='')}",
        entity=docs.entity,
        **extra,
    )
    response.headers["Vary"] = "Accept"
    return response


def _downloads(docs: Docs) -> list[tuple[str, str]]:
    root = (
        f"/api/v1/apis/{quote(docs.namespace, safe='')}/{quote(docs.name, safe='')}"
        f"/versions/{quote(docs.version.version, safe='')}/definition"
    )
    return [
        ("Bundled definition (YAML)", f"{root}?bundled=true&format=yaml"),
        ("Bundled definition (JSON)", f"{root}?bundled=true&format=json"),
        ("Original file", root),
        ("This page as markdown", f"{docs.base}{MD}"),
    ]


# -- routes ------------------------------------------------------------------------------------------------


@router.get("/apis/{namespace}/{name}")
def api_docs(
    request: Request,
    namespace: str,
    name: str,
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    api_ref = _api_ref(namespace, name)
    entity = _check_visible(session, namespace, name, viewer)
    latest = _latest_version(session, api_ref)
    if latest is not None:
        return RedirectResponse(_base(api_ref, latest.version), status_code=307)
    if entity is None:
        raise NotFound(f"{api_ref} is not in the catalog and has no published definition")
    namespace, name = api_ref.split(":", 1)[1].split("/", 1)
    return render(
        request,
        "docs/empty.html",
        entity=entity,
        namespace=namespace,
        api_name=name,
        api_ref=api_ref,
        publish_url=f"/apis/{quote(namespace, safe='')}/{quote(name, safe='')}/publish",
        catalog_url=f"/catalog/{quote(namespace, safe='')}/api/{quote(name, safe='')}",
    )


@router.get("/apis/{namespace}/{name}/v/{version}")
def overview_page(
    request: Request,
    namespace: str,
    name: str,
    version: str,
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    docs = _open(request, session, viewer, namespace, name, version, suffix_ok=True)
    ref = docs.reference
    if docs.markdown:
        return _md(
            docs,
            ("overview",),
            lambda: export.overview_md(
                ref, overview(ref), docs.version.version, docs.version.lifecycle, _downloads(docs)
            ),
        )
    content = _fragment(
        docs,
        ("overview",),
        lambda: _render_fragment(
            "docs/fragments/overview.html",
            ref=ref,
            ov=overview(ref),
            version=docs.version.version,
            downloads=_downloads(docs),
        ),
    )
    return _page(request, docs, page="", title="Overview", content=content, current_url=docs.base)


@router.get("/apis/{namespace}/{name}/v/{version}/operations/{anchor}")
def operation_page(
    request: Request,
    namespace: str,
    name: str,
    version: str,
    anchor: str,
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    docs = _open(request, session, viewer, namespace, name, version, suffix_ok=False)
    ref = docs.reference
    entry = ref.by_anchor.get(anchor)
    markdown = docs.markdown
    if entry is None:
        stripped, had_suffix = _strip_md(anchor)
        entry = ref.by_anchor.get(stripped) if had_suffix else None
        markdown = markdown or entry is not None
    if entry is None:
        raise NotFound(f"{docs.api_ref} {docs.version.version} has no operation {anchor!r}")

    @functools.cache
    def view():
        if ref.is_async:
            from devhub.docs.async_view import async_operation_view

            return async_operation_view(ref, entry)
        from devhub.docs.operation_view import operation_view

        return operation_view(ref, entry)

    if markdown:
        return _md(
            docs,
            ("operation", entry.anchor),
            lambda: export.async_operation_md(view()) if ref.is_async else export.operation_md(view()),
        )
    template = "docs/fragments/async_operation.html" if ref.is_async else "docs/fragments/operation.html"
    content = _fragment(docs, ("operation", entry.anchor), lambda: _render_fragment(template, ref=ref, view=view()))
    samples = _fragment(
        docs, ("samples", entry.anchor), lambda: _render_fragment("docs/fragments/samples.html", ref=ref, view=view())
    )
    return _page(
        request,
        docs,
        page=f"operations/{entry.anchor}",
        title=entry.title,
        content=content,
        samples=samples if samples.strip() else None,
        current_url=entry.url,
    )


@router.get("/apis/{namespace}/{name}/v/{version}/schemas")
@router.get("/apis/{namespace}/{name}/v/{version}/schemas.md")
def schemas_page(
    request: Request,
    namespace: str,
    name: str,
    version: str,
    q: str = Query("", max_length=200),
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    docs = _open(request, session, viewer, namespace, name, version, suffix_ok=False)
    ref = docs.reference
    needle = q.strip().lower()
    if docs.markdown or request.url.path.endswith(MD):
        if needle:
            items = [i for i in schema_list(ref) if needle in i.name.lower()]
            return markdown_response(export.schemas_md(ref.title, items))
        return _md(docs, ("schemas",), lambda: export.schemas_md(ref.title, schema_list(ref)))
    if needle:
        items = [i for i in schema_list(ref) if needle in i.name.lower() or needle in (i.description or "").lower()]
        content = Markup(
            _render_fragment(
                "docs/fragments/schemas.html", ref=ref, items=items, q=q.strip(), total=len(ref.schema_keys)
            )
        )
    else:
        content = _fragment(
            docs,
            ("schemas",),
            lambda: _render_fragment(
                "docs/fragments/schemas.html", ref=ref, items=schema_list(ref), q="", total=len(ref.schema_keys)
            ),
        )
    return _page(request, docs, page="schemas", title="Schemas", content=content, current_url=f"{docs.base}/schemas")


@router.get("/apis/{namespace}/{name}/v/{version}/schemas/{schema:path}")
def schema_detail_page(
    request: Request,
    namespace: str,
    name: str,
    version: str,
    schema: str,
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    docs = _open(request, session, viewer, namespace, name, version, suffix_ok=False)
    ref = docs.reference
    key, markdown = schema, docs.markdown
    if key not in ref.schema_refs:
        stripped, had_suffix = _strip_md(key)
        if had_suffix and stripped in ref.schema_refs:
            key, markdown = stripped, True
    if key not in ref.schema_refs:
        raise NotFound(f"{docs.api_ref} {docs.version.version} has no schema {schema!r}")

    @functools.cache
    def page():
        return schema_page(ref, key)

    if markdown:
        return _md(docs, ("schema", key), lambda: export.schema_page_md(page()))
    content = _fragment(
        docs, ("schema", key), lambda: _render_fragment("docs/fragments/schema.html", ref=ref, page=page())
    )
    url = ref.schema_url(key)
    return _page(
        request,
        docs,
        page=f"schemas/{key}",
        title=key.split("/", 1)[-1] if key.startswith("messages/") else key,
        content=content,
        current_url=url,
    )


@router.get("/apis/{namespace}/{name}/v/{version}/changes")
@router.get("/apis/{namespace}/{name}/v/{version}/changes.md")
def changes_page(
    request: Request,
    namespace: str,
    name: str,
    version: str,
    from_: str | None = Query(None, alias="from", max_length=64),
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    from devhub.docs.changes import compare

    docs = _open(request, session, viewer, namespace, name, version, suffix_ok=False)
    markdown = docs.markdown or request.url.path.endswith(MD)
    versions = _versions(session, docs.api_ref)
    other = None
    if from_:
        if from_ == docs.version.version:
            raise Problem(400, "Bad request", "pick another version to compare with")
        other = _get_version(session, docs.api_ref, from_)
    else:
        older = [v for v in versions if (v.published_at, v.id) < (docs.version.published_at, docs.version.id)]
        other = older[0] if older else None
    result = None
    if other is not None:
        key = ("changes", *cache.version_key(other), *cache.version_key(docs.version))
        result = cache.changes.get_or_build(key, lambda: compare(reference_of(other), docs.reference))
    if markdown:
        if other is None:
            return markdown_response(
                f"# Changes · {export.esc(docs.version.title)}\n\n"
                f"{export.code(docs.version.version)} is the first published version: there is nothing to compare.\n"
            )
        return markdown_response(export.changes_md(docs.version.title, other.version, docs.version.version, result))
    content = Markup(
        _render_fragment(
            "docs/fragments/changes.html",
            docs=docs,
            ref=docs.reference,
            other=other,
            changes=result,
            versions=versions,
            base=docs.base,
        )
    )
    return _page(request, docs, page="changes", title="Changes", content=content, current_url=f"{docs.base}/changes")


@router.get("/apis/{namespace}/{name}/v/{version}/switch")
def switch_version(
    request: Request,
    namespace: str,
    name: str,
    version: str,
    to: str = Query(..., max_length=64),
    page: str = Query("", max_length=600),
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    """The version switcher: the same page in version `to`, or its overview when that page is not there."""
    current = _open(request, session, viewer, namespace, name, version, suffix_ok=False)
    target = _get_version(session, current.api_ref, to)
    target_ref = reference_of(target)
    base = _base(current.api_ref, target.version)
    kind, _, rest = page.partition("/")
    destination = base
    if kind == "schemas" and not rest:
        destination = f"{base}/schemas"
    elif kind == "schemas" and rest in target_ref.schema_refs:
        destination = target_ref.schema_url(rest) or base
    elif kind == "changes":
        destination = f"{base}/changes"
    elif kind == "operations":
        entry = target_ref.by_anchor.get(rest)
        if entry is None:
            source = current.reference.by_anchor.get(rest)
            entry = next(
                (
                    e
                    for e in target_ref.ops
                    if source is not None and (e.method, e.path) == (source.method, source.path)
                ),
                None,
            )
        if entry is not None:
            destination = entry.url
    return RedirectResponse(destination, status_code=303)
