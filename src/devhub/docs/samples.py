"""Code samples for an HTTP operation: curl, Python (httpx), JavaScript (fetch) and Go (net/http).

A sample is built from the operation view: the first server (variables filled with their defaults;
Swagger: scheme, host and base path), path parameters and required query, header and cookie parameters
filled from their examples (or defaults, or schema-derived placeholders), the request body from its
example (or a minimal example generated from the schema), its content type, and a placeholder for the
credentials of the operation's first security requirement. Output is deterministic.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from devhub.docs.refs import as_dict, deref
from devhub.docs.render import Reference, servers_view

FALLBACK_HOST = "https://api.example.com"
API_KEY = "YOUR_API_KEY"
TOKEN = "YOUR_TOKEN"
USER, PASSWORD = "USER", "PASSWORD"


@dataclass
class Sample:
    key: str  # curl | python | javascript | go
    label: str
    language: str  # for the code element's class
    code: str


@dataclass
class RequestSpec:
    method: str
    url: str  # with the path filled in, without the query
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    basic_auth: bool = False
    media_type: str | None = None
    body: Any = None
    has_body: bool = False

    @property
    def full_url(self) -> str:
        if not self.query:
            return self.url
        return f"{self.url}?{urlencode(self.query, quote_via=quote, safe='')}"

    @property
    def body_kind(self) -> str | None:
        """json | form | multipart | raw, or None without a body."""
        if not self.has_body:
            return None
        media = (self.media_type or "").lower()
        if media == "application/x-www-form-urlencoded" and isinstance(self.body, dict):
            return "form"
        if media.startswith("multipart/") and isinstance(self.body, dict):
            return "multipart"
        if media == "application/json" or re.search(r"[/+]json\b", media) or not media:
            return "json"
        return "raw"


def samples_for(ref: Reference, view) -> list[Sample]:
    request = build_request(ref, view)
    return [
        Sample("curl", "curl", "shell", curl(request)),
        Sample("python", "Python", "python", python(request)),
        Sample("javascript", "JavaScript", "javascript", javascript(request)),
        Sample("go", "Go", "go", go(request)),
    ]


# -- the request -----------------------------------------------------------------------------------------


def server_url(ref: Reference, view) -> str:
    servers = view.servers or servers_view(ref)
    url = servers[0].url if servers else ""
    if servers:
        for variable in servers[0].variables:
            url = url.replace(
                "{" + variable.name + "}", variable.default or (variable.enum[0] if variable.enum else "")
            )
    if url.startswith("//"):
        url = "https:" + url
    if not re.match(r"^https?://", url, re.I):
        url = FALLBACK_HOST + ("/" + url.lstrip("/") if url.strip("/") else "")
    return url.rstrip("/")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def build_request(ref: Reference, view) -> RequestSpec:
    path = view.path
    request = RequestSpec(view.method.upper(), "")
    cookies: list[tuple[str, str]] = []
    for param in view.parameters:
        if param.location == "path":
            path = path.replace("{" + param.name + "}", quote(_scalar(param.value), safe=""))
        elif not param.required:
            continue
        elif param.location == "query":
            values = param.value if isinstance(param.value, list) else [param.value]
            request.query.extend((param.name, _scalar(v)) for v in values)
        elif param.location == "header" and param.name.lower() not in ("accept", "content-type", "authorization"):
            request.headers.append((param.name, _scalar(param.value)))
        elif param.location == "cookie":
            cookies.append((param.name, _scalar(param.value)))
    request.url = server_url(ref, view) + path
    _auth(ref, view, request, cookies)
    if cookies:
        request.headers.append(("Cookie", "; ".join(f"{k}={v}" for k, v in cookies)))
    body = view.request_body
    if body is not None and body.contents:
        media = _pick_media(body.contents)
        if media is not None and media.has_value:
            request.media_type = media.media_types[0]
            request.body = media.value
            request.has_body = True
            if request.body_kind in ("json", "form", "raw"):
                request.headers.insert(0, ("Content-Type", request.media_type))
    return request


def _pick_media(contents: list) -> Any:
    def rank(media) -> int:
        first = media.media_types[0].lower()
        if first == "application/json" or re.search(r"[/+]json\b", first):
            return 0
        if "form" in first:
            return 1
        return 2

    candidates = [m for m in contents if m.has_value] or contents
    return sorted(candidates, key=rank)[0] if candidates else None


def _schemes(ref: Reference) -> dict:
    doc = ref.doc
    if ref.flavour == "swagger":
        return as_dict(doc.get("securityDefinitions"))
    return as_dict(as_dict(doc.get("components")).get("securitySchemes"))


def _auth(ref: Reference, view, request: RequestSpec, cookies: list[tuple[str, str]]) -> None:
    if not view.security:
        return
    schemes = _schemes(ref)
    for name, _scopes in view.security[0]:
        scheme = as_dict(deref(ref.doc, schemes.get(name)))
        kind = str(scheme.get("type", "")).lower()
        if kind == "apikey":
            where, key = scheme.get("in"), str(scheme.get("name") or "api_key")
            if where == "query":
                request.query.append((key, API_KEY))
            elif where == "cookie":
                cookies.append((key, API_KEY))
            else:
                request.headers.append((key, API_KEY))
        elif kind == "basic" or (kind == "http" and str(scheme.get("scheme", "")).lower() == "basic"):
            request.basic_auth = True
        elif kind == "http" and str(scheme.get("scheme", "")).lower() not in ("", "bearer"):
            request.headers.append(("Authorization", f"{str(scheme['scheme']).capitalize()} YOUR_CREDENTIALS"))
        elif kind in ("http", "oauth2", "openidconnect"):
            request.headers.append(("Authorization", f"Bearer {TOKEN}"))


def _form_fields(body: Any) -> list[tuple[str, str]]:
    return [(str(k), _scalar(v)) for k, v in as_dict(body).items()]


def _json_body(body: Any) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False)


def _raw_body(body: Any) -> str:
    return body if isinstance(body, str) else _json_body(body)


# -- curl --------------------------------------------------------------------------------------------------


def shell_quote(value: str) -> str:
    """Single-quoted for POSIX shells: every character literal, `'` written as `'\\''`."""
    return "'" + value.replace("'", "'\\''") + "'"


def curl(request: RequestSpec) -> str:
    first = "curl"
    if request.method != "GET" or (request.has_body and request.method == "GET"):
        first += f" -X {request.method}"
    first += " " + shell_quote(request.full_url)
    lines = [first]
    if request.basic_auth:
        lines.append("-u " + shell_quote(f"{USER}:{PASSWORD}"))
    for name, value in request.headers:
        lines.append("-H " + shell_quote(f"{name}: {value}"))
    kind = request.body_kind
    if kind == "json":
        lines.append("-d " + shell_quote(_json_body(request.body)))
    elif kind == "form":
        lines.extend("--data-urlencode " + shell_quote(f"{k}={v}") for k, v in _form_fields(request.body))
    elif kind == "multipart":
        lines.extend("-F " + shell_quote(f"{k}={v}") for k, v in _form_fields(request.body))
    elif kind == "raw":
        lines.append("--data-binary " + shell_quote(_raw_body(request.body)))
    return " \\\n  ".join(lines)


# -- Python ------------------------------------------------------------------------------------------------


def py_literal(value: Any, indent: int = 0) -> str:
    """A JSON-like value as Python source, multi-line with trailing commas like `black`."""
    pad, inner = " " * indent, " " * (indent + 4)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{_py_str(str(k))}: {py_literal(v, indent + 4)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [f"{inner}{py_literal(v, indent + 4)}," for v in value]
        return "[\n" + "\n".join(items) + f"\n{pad}]"
    if isinstance(value, bool):
        return "True" if value else "False"
    if value is None:
        return "None"
    if isinstance(value, int | float):
        return repr(value)
    return _py_str(str(value))


def _py_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def python(request: RequestSpec) -> str:
    method = request.method.lower()
    simple = method in ("get", "post", "put", "patch", "delete", "head", "options")
    if method in ("get", "delete", "head", "options") and request.has_body:
        simple = False
    call = f"httpx.{method}(" if simple else "httpx.request("
    args = [] if simple else [_py_str(request.method)]
    args.append(_py_str(request.url))
    if request.query:
        args.append("params=" + py_literal(_pairs_dict(request.query), 4))
    headers = [(k, v) for k, v in request.headers if not (k == "Content-Type" and _python_sets_type(request))]
    if headers:
        args.append("headers=" + py_literal(_pairs_dict(headers), 4))
    if request.basic_auth:
        args.append(f"auth=({_py_str(USER)}, {_py_str(PASSWORD)})")
    kind = request.body_kind
    if kind == "json":
        args.append("json=" + py_literal(request.body, 4))
    elif kind == "form":
        args.append("data=" + py_literal(dict(_form_fields(request.body)), 4))
    elif kind == "multipart":
        files = ",\n".join(f"        {_py_str(k)}: (None, {_py_str(v)})" for k, v in _form_fields(request.body))
        args.append("files={\n" + files + ",\n    }")
    elif kind == "raw":
        args.append("content=" + _py_str(_raw_body(request.body)))
    if len(args) == 1:
        line = f"response = {call}{args[0]})"
    else:
        line = f"response = {call}\n" + "".join(f"    {a},\n" for a in args) + ")"
    return f"import httpx\n\n{line}\nprint(response.status_code, response.text)"


def _python_sets_type(request: RequestSpec) -> bool:
    """httpx sets Content-Type itself for json= (application/json) and data= (form)."""
    kind = request.body_kind
    return (kind == "json" and request.media_type == "application/json") or kind == "form"


def _pairs_dict(pairs: list[tuple[str, str]]) -> dict:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            result[key] = [*(result[key] if isinstance(result[key], list) else [result[key]]), value]
        else:
            result[key] = value
    return result


# -- JavaScript --------------------------------------------------------------------------------------------


def _js_str(value: str) -> str:
    return json.dumps(value)


def javascript(request: RequestSpec) -> str:
    kind = request.body_kind
    options: list[str] = []
    prelude: list[str] = []
    if request.method != "GET":
        options.append(f"method: {_js_str(request.method)}")
    headers = list(request.headers)
    if request.basic_auth:
        headers.append(("Authorization", None))
    if headers:
        lines = []
        for name, value in headers:
            if value is None:
                lines.append(f'    "Authorization": "Basic " + btoa({_js_str(f"{USER}:{PASSWORD}")}),')
            else:
                lines.append(f"    {_js_str(name)}: {_js_str(value)},")
        options.append("headers: {\n" + "\n".join(lines) + "\n  }")
    if kind == "json":
        options.append("body: JSON.stringify(" + _json_body(request.body).replace("\n", "\n  ") + ")")
    elif kind == "form":
        fields = "".join(f"    {_js_str(k)}: {_js_str(v)},\n" for k, v in _form_fields(request.body))
        options.append("body: new URLSearchParams({\n" + fields + "  })")
    elif kind == "multipart":
        prelude.append("const form = new FormData();")
        prelude.extend(f"form.append({_js_str(k)}, {_js_str(v)});" for k, v in _form_fields(request.body))
        options.append("body: form")
    elif kind == "raw":
        options.append("body: " + _js_str(_raw_body(request.body)))
    url = _js_str(request.full_url)
    if options:
        call = f"const response = await fetch({url}, {{\n" + "".join(f"  {o},\n" for o in options) + "});"
    else:
        call = f"const response = await fetch({url});"
    return "\n".join([*prelude, call, "console.log(response.status, await response.text());"])


# -- Go ----------------------------------------------------------------------------------------------------


def _go_str(value: str) -> str:
    return json.dumps(value)


def _go_text(value: str) -> str:
    """A raw string literal when it can be one, else an interpreted one."""
    return f"`{value}`" if "`" not in value and "\r" not in value else _go_str(value)


def go(request: RequestSpec) -> str:
    kind = request.body_kind
    imports = {"fmt", "io", "net/http"}
    body_lines: list[str] = []
    body_arg = "nil"
    if kind == "json":
        imports.add("strings")
        body_lines.append(f"body := strings.NewReader({_go_text(_json_body(request.body))})")
        body_arg = "body"
    elif kind == "raw":
        imports.add("strings")
        body_lines.append(f"body := strings.NewReader({_go_text(_raw_body(request.body))})")
        body_arg = "body"
    elif kind == "form":
        imports.update({"strings", "net/url"})
        body_lines.append("form := url.Values{}")
        body_lines.extend(f"form.Set({_go_str(k)}, {_go_str(v)})" for k, v in _form_fields(request.body))
        body_lines.append("body := strings.NewReader(form.Encode())")
        body_arg = "body"
    elif kind == "multipart":
        imports.update({"bytes", "mime/multipart"})
        body_lines.append("var body bytes.Buffer")
        body_lines.append("writer := multipart.NewWriter(&body)")
        body_lines.extend(f"writer.WriteField({_go_str(k)}, {_go_str(v)})" for k, v in _form_fields(request.body))
        body_lines.append("writer.Close()")
        body_arg = "&body"
    lines = [*body_lines]
    lines.append(f"req, err := http.NewRequest({_go_str(request.method)}, {_go_str(request.full_url)}, {body_arg})")
    lines += ["if err != nil {", "\tpanic(err)", "}"]
    if kind == "multipart":
        lines.append('req.Header.Set("Content-Type", writer.FormDataContentType())')
    for name, value in request.headers:
        lines.append(f"req.Header.Set({_go_str(name)}, {_go_str(value)})")
    if request.basic_auth:
        lines.append(f"req.SetBasicAuth({_go_str(USER)}, {_go_str(PASSWORD)})")
    lines += [
        "resp, err := http.DefaultClient.Do(req)",
        "if err != nil {",
        "\tpanic(err)",
        "}",
        "defer resp.Body.Close()",
        "out, err := io.ReadAll(resp.Body)",
        "if err != nil {",
        "\tpanic(err)",
        "}",
        "fmt.Println(resp.StatusCode, string(out))",
    ]
    body = "\n".join(_go_indent(line) for line in lines)
    import_block = "\n".join(f'\t"{name}"' for name in sorted(imports))
    return f"package main\n\nimport (\n{import_block}\n)\n\nfunc main() {{\n{body}\n}}"


def _go_indent(line: str) -> str:
    """Indent a statement by one tab; the continuation lines of a raw string stay as they are."""
    first, *rest = line.split("\n")
    return "\n".join(["\t" + first, *rest])
