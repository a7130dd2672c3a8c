"""Reference docs pages rendered from published definitions."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
