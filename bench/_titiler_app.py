"""TiTiler's stock COG tiler (titiler.core ``TilerFactory`` + its error handlers), for the raster benchmark."""

from fastapi import FastAPI
from titiler.core.errors import DEFAULT_STATUS_CODES, add_exception_handlers
from titiler.core.factory import TilerFactory

app = FastAPI(title="titiler (benchmark peer)")
app.include_router(TilerFactory().router)
add_exception_handlers(app, DEFAULT_STATUS_CODES)
