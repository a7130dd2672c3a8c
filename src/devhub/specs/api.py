"""Definitions JSON API under /api/v1/apis."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/apis", tags=["definitions"])
