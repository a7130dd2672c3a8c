"""Uploads over HTTP (the REST endpoint and the publish form): size limits first, then the files.

The declared length is checked before anything is parsed; bodies without one are read up to the limit
and no further. Multipart file parts are spooled by Starlette, then read up to the limit. A `.zip` (or
any upload starting with the zip signature) is a multi-file definition; anything else is one file.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import UploadFile

from devhub.problems import Problem
from devhub.specs.errors import SpecError, SpecInvalid
from devhub.specs.limits import Limits
from devhub.specs.sources import Loaded, decode, from_zip

FORM_OVERHEAD = 256 * 1024  # the other fields and the multipart framing around the file
ZIP_MAGIC = b"PK\x03\x04"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def too_large(limit: int) -> Problem:
    return Problem(413, "Definition too large", f"uploads are limited to {limit:,} bytes (DEVHUB_SPEC_MAX_BYTES)")


def check_length(request: Request, limits: Limits) -> None:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_bytes + FORM_OVERHEAD:
        raise too_large(limits.max_bytes)


async def read_body(request: Request, limits: Limits) -> bytes:
    """The request body, refusing it as soon as it passes the limit."""
    check_length(request, limits)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limits.max_bytes + FORM_OVERHEAD:
            raise too_large(limits.max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass
class FormUpload:
    version: str
    lifecycle: str
    main: str | None
    filename: str
    data: bytes
    allow_breaking: bool = False


async def read_form(request: Request, limits: Limits) -> FormUpload:
    """The publish form's fields: `file`, `version`, `lifecycle`, `main` (for zips)."""
    check_length(request, limits)
    form = await request.form(max_files=1, max_fields=20)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise SpecInvalid([SpecError("choose a definition file to upload (file)")])
    data = await upload.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise too_large(limits.max_bytes)
    return FormUpload(
        version=_field(form.get("version")),
        lifecycle=_field(form.get("lifecycle")) or "stable",
        main=_field(form.get("main")) or None,
        filename=upload.filename,
        data=data,
        allow_breaking=_field(form.get("allow_breaking")).lower() in ("1", "true", "on", "yes"),
    )


def _field(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def safe_filename(name: str | None, data: bytes | str) -> str:
    """A plain file name for a single uploaded file (its directories dropped); guessed when missing."""
    base = posixpath.basename((name or "").replace("\\", "/"))
    base = _SAFE_NAME.sub("-", base).strip(".-")
    if base.lower().endswith((".yaml", ".yml", ".json")):
        return base
    head = data[:64].lstrip() if isinstance(data, bytes) else data[:64].lstrip().encode()
    return (base or "definition") + (".json" if head.startswith(b"{") else ".yaml")


def files_from_upload(filename: str | None, data: bytes, main: str | None, limits: Limits) -> Loaded:
    """The files of an uploaded zip (with the guides of its docs/ folder) or of one uploaded file."""
    if len(data) > limits.max_bytes:
        raise too_large(limits.max_bytes)
    if (filename or "").lower().endswith(".zip") or data.startswith(ZIP_MAGIC):
        return from_zip(data, main, limits)
    name = safe_filename(filename, data)
    return Loaded(name, {name: decode(data, name)}, {}, None)
