"""The viewer's city endpoints: /api/city, /api/features/{id}, /api/search, /api/kpis."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["city"])
