"""One pagination shape for every list, in pages and in the JSON API."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    size: int = 25

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def page_request(page: int | None, size: int | None, default_size: int, max_size: int) -> PageRequest:
    """Clamp what the client asked for into a valid page request."""
    page = max(1, page or 1)
    size = min(max(1, size or default_size), max_size)
    return PageRequest(page=page, size=size)


@dataclass
class Page(Generic[T]):
    items: list[T]
    total: int
    request: PageRequest

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.request.size))

    @property
    def has_next(self) -> bool:
        return self.request.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.request.page > 1


class PageMeta(BaseModel):
    page: int
    size: int
    total: int
    pages: int

    @classmethod
    def of(cls, page: Page) -> PageMeta:
        return cls(page=page.request.page, size=page.request.size, total=page.total, pages=page.pages)
