"""Hostile definitions render inert: scripts, event handlers and javascript:/data: links in every field a
page shows (titles, descriptions, summaries, names, examples, enums, URLs) never become executable markup."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from devhub.docs import cache
from tests.docs.test_reference_support import HTML, publish

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
JS_LINK = "[x](javascript:alert(1))"
DATA_LINK = "[y](data:text/html;base64,PHNjcmlwdD4=)"
EVIL = f'{SCRIPT} {IMG} {JS_LINK} {DATA_LINK} <a href="javascript:alert(2)" onclick="alert(3)">z</a>'
EVIL_URLS = [
    "javascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD4=",
    " JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
]


def _schema() -> dict:
    return {
        "type": "object",
        "title": EVIL,
        "description": EVIL,
        "required": [IMG],
        "properties": {
            IMG: {
                "type": "string",
                "description": EVIL,
                "enum": [SCRIPT, IMG],
                "default": SCRIPT,
                "pattern": SCRIPT,
                "example": EVIL,
            },
            "nested": {"type": "array", "items": {"$ref": "#/components/schemas/Evil"}, "description": EVIL},
        },
        "discriminator": {"propertyName": SCRIPT, "mapping": {IMG: "#/components/schemas/Evil"}},
        "example": {SCRIPT: IMG},
    }


OPENAPI = {
    "openapi": "3.1.0",
    "info": {
        "title": EVIL,
        "summary": EVIL,
        "description": EVIL,
        "version": SCRIPT,
        "termsOfService": EVIL_URLS[0],
        "contact": {"name": EVIL, "url": EVIL_URLS[1], "email": 'x@example.com"><script>alert(1)</script>'},
        "license": {"name": EVIL, "url": EVIL_URLS[2]},
    },
    "externalDocs": {"url": EVIL_URLS[3], "description": EVIL},
    "servers": [
        {
            "url": f"https://{IMG}.example.com/{{v}}",
            "description": EVIL,
            "variables": {"v": {"default": SCRIPT, "description": EVIL}},
        }
    ],
    "tags": [{"name": SCRIPT, "description": EVIL, "externalDocs": {"url": EVIL_URLS[0]}}],
    "security": [{SCRIPT: []}],
    "paths": {
        f"/things/{{{IMG}}}": {
            "post": {
                "operationId": f"evil{SCRIPT}",
                "summary": EVIL,
                "description": EVIL,
                "tags": [SCRIPT],
                "deprecated": True,
                "externalDocs": {"url": EVIL_URLS[1], "description": EVIL},
                "parameters": [
                    {
                        "name": IMG,
                        "in": "path",
                        "required": True,
                        "description": EVIL,
                        "schema": {"type": "string"},
                        "example": SCRIPT,
                    },
                    {
                        "name": SCRIPT,
                        "in": "header",
                        "required": True,
                        "description": EVIL,
                        "schema": {"type": "string", "enum": [IMG]},
                    },
                    {
                        "name": "q",
                        "in": "query",
                        "required": True,
                        "examples": {SCRIPT: {"summary": EVIL, "description": EVIL, "value": IMG}},
                    },
                ],
                "requestBody": {
                    "description": EVIL,
                    "content": {
                        f"application/json; x={IMG}": {
                            "schema": {"$ref": "#/components/schemas/Evil"},
                            "examples": {
                                IMG: {"summary": EVIL, "description": EVIL, "value": {SCRIPT: EVIL}},
                                "ext": {"externalValue": EVIL_URLS[0]},
                            },
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": EVIL,
                        "headers": {IMG: {"description": EVIL, "schema": {"type": "string"}}},
                        "content": {"text/html": {"example": EVIL}},
                        "links": {IMG: {"operationId": SCRIPT, "description": EVIL, "parameters": {IMG: SCRIPT}}},
                    }
                },
                "callbacks": {
                    IMG: {
                        f"{{$request.body#/{SCRIPT}}}": {
                            "post": {"summary": EVIL, "description": EVIL, "responses": {"200": {"description": EVIL}}}
                        }
                    }
                },
            }
        }
    },
    "webhooks": {SCRIPT: {"post": {"summary": EVIL, "description": EVIL, "responses": {"200": {"description": EVIL}}}}},
    "components": {
        "schemas": {"Evil": _schema(), f"Name{IMG}": {"type": "string", "description": EVIL}},
        "securitySchemes": {
            SCRIPT: {
                "type": "oauth2",
                "description": EVIL,
                "flows": {
                    "authorizationCode": {
                        "authorizationUrl": EVIL_URLS[0],
                        "tokenUrl": EVIL_URLS[1],
                        "scopes": {SCRIPT: EVIL},
                    }
                },
            },
            "oidc": {"type": "openIdConnect", "openIdConnectUrl": EVIL_URLS[2], "description": EVIL},
        },
    },
}

ASYNCAPI = {
    "asyncapi": "3.0.0",
    "info": {"title": EVIL, "version": "1", "description": EVIL},
    "servers": {IMG: {"host": SCRIPT, "protocol": IMG, "description": EVIL}},
    "channels": {
        "evil": {
            "address": f"evil/{IMG}",
            "description": EVIL,
            "parameters": {IMG: {"description": EVIL, "enum": [SCRIPT]}},
            "messages": {"m": {"$ref": "#/components/messages/Evil"}},
        }
    },
    "operations": {
        "evilOp": {
            "action": "send",
            "channel": {"$ref": "#/channels/evil"},
            "summary": EVIL,
            "description": EVIL,
            "bindings": {"mqtt": {"qos": SCRIPT}},
        }
    },
    "components": {
        "messages": {
            "Evil": {
                "title": EVIL,
                "summary": EVIL,
                "description": EVIL,
                "contentType": IMG,
                "payload": _schema() | {"properties": {IMG: {"type": "string", "description": EVIL}}},
                "headers": {"type": "object", "properties": {SCRIPT: {"type": "string", "description": EVIL}}},
                "examples": [{"name": SCRIPT, "summary": EVIL, "payload": {SCRIPT: EVIL}, "headers": {IMG: SCRIPT}}],
            }
        },
        "schemas": {"Evil": _schema()},
    },
}


class Inspector(HTMLParser):
    """Collects what would execute: script elements with content, on* attributes, dangerous URLs."""

    URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "srcset", "data", "poster"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._in_script = True
            src = dict(attrs).get("src") or ""
            if not src.startswith("/static/"):
                self.problems.append(f"script element {attrs}")
        for name, value in attrs:
            if name.lower().startswith("on"):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name.lower() in self.URL_ATTRIBUTES and value:
                cleaned = re.sub(r"[\x00-\x20]", "", value).lower()
                if cleaned.startswith(("javascript:", "data:", "vbscript:")):
                    self.problems.append(f"<{tag} {name}={value!r}>")
        if tag in ("iframe", "object", "embed", "form") and tag != "form":
            self.problems.append(f"<{tag}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append(f"script content {data[:80]!r}")


def inert(html: str) -> list[str]:
    inspector = Inspector()
    inspector.feed(html)
    inspector.close()
    return inspector.problems


def test_the_inspector_catches_what_it_should():
    assert inert("<script>alert(1)</script>")
    assert inert('<img src="x" onerror="alert(1)">')
    assert inert('<a href=" javascript:alert(1)">x</a>')
    assert inert('<a href="data:text/html;base64,xx">x</a>')
    assert not inert('<script src="/static/js/docs.js" defer></script><a href="https://example.com">ok</a>')


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.mark.parametrize("doc", [OPENAPI, ASYNCAPI], ids=["openapi", "asyncapi"])
def test_hostile_definitions_render_inert(db, client, doc):
    from devhub.docs.views import reference_of
    from devhub.specs.models import SpecVersion

    publish(db, "api:default/evil", "1.0.0", doc)
    publish(db, "api:default/evil", "2.0.0", doc | {"info": doc["info"] | {"description": "changed " + EVIL}})
    with db.session() as session:
        version = session.query(SpecVersion).filter_by(version="2.0.0").one()
        ref = reference_of(version)
        urls = [ref.base, f"{ref.base}/schemas", f"{ref.base}/changes", f"{ref.base}/changes?from=1.0.0"]
        urls += [e.url for e in ref.ops + ref.webhooks] + [ref.schema_url(k) for k in ref.schema_keys]
        urls += [f"{ref.base}?filter={SCRIPT}", f"{ref.base}/schemas?q={IMG}"]
    assert len(urls) > 6
    for url in urls:
        response = client.get(url, headers=HTML)
        assert response.status_code == 200, url
        problems = inert(response.text)
        assert not problems, f"{url}: {problems[:5]}"
        assert "alert(1)" not in re.sub(r"&[#a-z0-9]+;", "", response.text) or "&lt;script&gt;" in response.text
        markdown = client.get(url.split("?")[0] + ".md" if "?" not in url else url, headers={"accept": "text/markdown"})
        assert markdown.status_code == 200
        assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
        assert markdown.headers["x-content-type-options"] == "nosniff"


def test_unsafe_urls_are_text_not_links(db, client):
    publish(db, "api:default/evil", "1.0.0", OPENAPI)
    html = client.get("/apis/default/evil/v/1.0.0", headers=HTML).text
    for bad in EVIL_URLS:
        assert f'href="{bad}"' not in html
    assert '<span class="mono">javascript:alert(1)</span>' in html, "shown, as text"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, "escaped, visible"
