"""Definition pages: versions list and the publish form."""

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
