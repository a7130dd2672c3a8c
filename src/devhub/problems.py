"""RFC 9457 problem documents: the one error shape of the JSON API."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """Raise from a service or route to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": "about:blank", "title": self.title, "status": self.status}
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extra)
        return body


class NotFound(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(404, "Not found", detail)


class BadRequest(Problem):
    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(400, "Bad request", detail, **extra)


def problem_response(problem: Problem) -> JSONResponse:
    return JSONResponse(problem.to_dict(), status_code=problem.status, media_type=PROBLEM_JSON)


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith(("/api/", "/scim/")) and "text/html" in request.headers.get("accept", "")


def install_handlers(app) -> None:
    from devhub.web import render_error_page

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem):
        if wants_html(request):
            return render_error_page(request, exc.status, exc.title, exc.detail)
        return problem_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        if wants_html(request):
            return render_error_page(request, exc.status_code, title, detail)
        return problem_response(Problem(exc.status_code, title, detail))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = [{"pointer": "/" + "/".join(str(p) for p in err["loc"]), "detail": err["msg"]} for err in exc.errors()]
        detail = "; ".join(f"{e['pointer']}: {e['detail']}" for e in errors)
        return problem_response(Problem(422, "Invalid request", detail, errors=errors))
