"""Guide pages: an entity's guides with their navigation, one guide, and the forms that write them.

    GET  /docs/{namespace}/{kind}/{name}                     guides index (empty state: "Write a guide")
    GET  /docs/{namespace}/{kind}/{name}/new                 form; POST creates, then 303 to the page
    GET  /docs/{namespace}/{kind}/{name}/{slug}              a guide; `{slug}.md` is its raw markdown
    GET  /docs/{namespace}/{kind}/{name}/{slug}/edit         form; POST saves, then 303 to the page
    POST /docs/{namespace}/{kind}/{name}/{slug}/delete       deletes, then 303 to the index

Slugs of imported folders hold slashes (`guides/auth`), hence `{slug:path}`; the form routes come first.
Only guides written in the portal have edit and delete; the others show where they come from. Whoever may
see the entity reads its guides; its owner team (and admins) write them (`guides.write`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from devhub.catalog.models import Entity
from devhub.deps import get_session
from devhub.docs import service
from devhub.docs.models import Guide
from devhub.identity.deps import get_principal
from devhub.identity.policy import Principal, require
from devhub.problems import NotFound, Problem
from devhub.web import render

router = APIRouter(include_in_schema=False)

BASE = "/docs/{namespace}/{kind}/{name}"
SESSION = Depends(get_session, scope="function")  # ends (and commits) before the response is sent


def _context(entity: Entity, guides: list[Guide], viewer: Principal, current: str | None = None) -> dict:
    return {
        "entity": entity,
        "guides": guides,
        "nav": service.nav_tree(guides, current),
        "docs_url": service.docs_url(entity.ref),
        "entity_url": f"/catalog/{entity.namespace}/{entity.kind.lower()}/{entity.name}",
        "active_nav": "apis" if entity.kind.lower() == "api" else "catalog",
        "can_write": service.can_write(viewer, entity),
        "signed_in": viewer.signed_in,
    }


def _writable(session: Session, viewer: Principal, namespace: str, kind: str, name: str) -> Entity:
    """The entity, if the viewer may see it (else 404) and write its guides (else 401/403)."""
    entity = service.get_entity(session, namespace, kind, name, viewer)
    require(viewer, "guides.write", entity.owner_ref)
    return entity


def _form(
    request: Request,
    entity: Entity,
    viewer: Principal,
    *,
    guide: Guide | None,
    values: dict,
    errors: dict[str, str] | None = None,
    suggestions: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    docs_url = service.docs_url(entity.ref)
    action = f"{service.guide_url(entity.ref, guide.slug)}/edit" if guide is not None else f"{docs_url}/new"
    return render(
        request,
        "guides/form.html",
        status_code=status_code,
        **_context(entity, [], viewer),
        guide=guide,
        values=values,
        errors=errors or {},
        suggestions=suggestions or [],
        action=action,
        limits={
            "slug": service.MAX_SLUG_LENGTH,
            "title": service.MAX_TITLE_LENGTH,
            "body": service.MAX_BODY_LENGTH,
            "position": service.MAX_POSITION,
        },
    )


def _position(raw: str) -> int | str:
    try:
        return int(raw.strip() or "0")
    except ValueError:
        return raw


def _save(
    request: Request,
    session: Session,
    viewer: Principal,
    entity: Entity,
    guide: Guide | None,
    title: str,
    slug: str,
    body: str,
    position: str,
):
    # An empty slug: made from the title for a new guide, kept as it is when editing.
    slug = slug.strip() or (guide.slug if guide is not None else service.slugify(title))
    values = {"title": title, "slug": slug, "body": body, "position": position}
    if guide is None and slug and service.find_guide(session, entity.ref, slug) is not None:
        errors = {"slug": f"There is already a guide {slug!r}; choose another slug, or edit that guide."}
        return _form(request, entity, viewer, guide=None, values=values, errors=errors, status_code=409)
    try:
        saved = service.save_guide(
            session,
            entity.ref,
            slug,
            title,
            body,
            _position(position),
            viewer.email,
            previous_slug=guide.slug if guide is not None else None,
            viewer=viewer,
        )
    except service.GuideInvalid as exc:
        session.rollback()
        return _form(request, entity, viewer, guide=guide, values=values, errors=exc.fields, status_code=422)
    except Problem as exc:
        if exc.status != 409:
            raise
        session.rollback()
        errors = {"slug": exc.detail or exc.title}
        return _form(request, entity, viewer, guide=guide, values=values, errors=errors, status_code=409)
    return RedirectResponse(service.guide_url(entity.ref, saved.slug), status_code=303)


@router.get(BASE, response_class=HTMLResponse)
def guides_index(
    request: Request,
    namespace: str,
    kind: str,
    name: str,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
):
    entity = service.get_entity(session, namespace, kind, name, viewer)
    guides = service.list_guides(session, entity.ref)
    return render(request, "guides/index.html", **_context(entity, guides, viewer))


@router.get(BASE + "/new", response_class=HTMLResponse)
def new_guide(
    request: Request,
    namespace: str,
    kind: str,
    name: str,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
):
    entity = _writable(session, viewer, namespace, kind, name)
    taken = {g.slug for g in service.list_guides(session, entity.ref)}
    suggestions = [s for s in ("getting-started", "authentication", "errors") if s not in taken]
    values = {"title": "", "slug": "", "body": "", "position": str(len(taken))}
    return _form(request, entity, viewer, guide=None, values=values, suggestions=suggestions)


@router.post(BASE + "/new", response_class=HTMLResponse)
def create_guide(
    request: Request,
    namespace: str,
    kind: str,
    name: str,
    title: str = Form(""),
    slug: str = Form(""),
    body: str = Form(""),
    position: str = Form("0"),
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
):
    entity = _writable(session, viewer, namespace, kind, name)
    return _save(request, session, viewer, entity, None, title, slug, body, position)


def _portal_guide(session: Session, entity: Entity, slug: str) -> Guide:
    guide = service.get_guide(session, entity.ref, slug)
    if guide.source != "portal":
        raise service.GuideReadOnly(guide)
    return guide


@router.get(BASE + "/{slug:path}/edit", response_class=HTMLResponse)
def edit_guide(
    request: Request,
    namespace: str,
    kind: str,
    name: str,
    slug: str,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
):
    entity = _writable(session, viewer, namespace, kind, name)
    guide = _portal_guide(session, entity, slug)
    values = {"title": guide.title, "slug": guide.slug, "body": guide.body, "position": str(guide.position)}
    return _form(request, entity, viewer, guide=guide, values=values)


@router.post(BASE + "/{slug:path}/edit", response_class=HTMLResponse)
def update_guide(
    request: Request,
    namespace: str,
    kind: str,
    name: str,
    slug: str,
    title: str = Form(""),
    new_slug: str = Form("", alias="slug"),
    body: str = Form(""),
    position: str = Form("0"),
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
):
    entity = _writable(session, viewer, namespace, kind, name)
    guide = _portal_guide(session, entity, slug)
    return _save(request, session, viewer, entity, guide, title, new_slug, body, position)


@router.post(BASE + "/{slug:path}/delete")
def delete_guide(
    namespace: str,
    kind: str,
    name: str,
    slug: str,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
):
    entity = service.get_entity(session, namespace, kind, name, viewer)
    service.delete_guide(session, entity.ref, slug, viewer=viewer)
    return RedirectResponse(service.docs_url(entity.ref), status_code=303)


@router.get(BASE + "/{slug:path}", response_class=HTMLResponse)
def guide_page(
    request: Request,
    namespace: str,
    kind: str,
    name: str,
    slug: str,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
):
    entity = service.get_entity(session, namespace, kind, name, viewer)
    slug = slug.rstrip("/")
    if not slug:
        return RedirectResponse(service.docs_url(entity.ref), status_code=307)
    if slug.endswith(".md"):
        guide = service.get_guide(session, entity.ref, slug[:-3])
        return Response(
            guide.body,
            media_type="text/markdown; charset=utf-8",
            headers={"X-Content-Type-Options": "nosniff", "Content-Disposition": "inline"},
        )
    guides = service.list_guides(session, entity.ref)
    guide = next((g for g in guides if g.slug == slug), None)
    if guide is None:
        raise NotFound(f"{entity.ref} has no guide {slug!r}")
    before, after = service.neighbours(guides, guide)
    return render(
        request,
        "guides/page.html",
        **_context(entity, guides, viewer, guide.slug),
        guide=guide,
        rendered=service.render_guide(guide, guides),
        note=service.source_note(guide, entity),
        before=before,
        after=after,
        guide_url=service.guide_url(entity.ref, guide.slug),
    )
