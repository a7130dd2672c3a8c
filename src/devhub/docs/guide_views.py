"""Guide pages: read, write and edit markdown guides."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
