"""OGC API Tiles (vector): TileJSON 3.0 per layer and MVT tiles in WebMercatorQuad."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["OGC API Tiles"])
