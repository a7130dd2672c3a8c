"""Guides JSON API under /api/v1/docs."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/docs", tags=["docs"])
