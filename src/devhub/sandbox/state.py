"""Stateful resources (filled in below)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    max_items: int = 500
    max_item_bytes: int = 65536


@dataclass(frozen=True)
class Call:
    api_ref: str
    version: str
    credential: str
    path: str
    operation: Any
    valid: Any
    prefer: Any


def answer(engine, spec, call: Call, limits: Limits):
    return None
