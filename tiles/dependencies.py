"""Request → typed values: the city, the caller's role, the layer (404 as a dependency), paging.

Endpoints stay thin: they declare what they need here and call ``cim``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request

from cim.access import require_role
from cim.city import City
from cim.errors import QueryError, ValidationError
from cim.model.catalog import LayerInfo, layer_info
from cim.users import UserDirectory
from tiles.errors import Unauthorized
from tiles.settings import Settings


async def get_city(request: Request) -> City:
    """The city the server was started with (opened in the lifespan)."""
    return request.app.state.city


async def get_settings(request: Request) -> Settings:
    """The server's settings."""
    return request.app.state.settings


async def get_role(
    request: Request,
    x_api_key: Annotated[str | None, Header(description="API key; its role decides what you may see and do. "
                                                          "Without one you are anonymous (read-only, public).")] = None,
) -> str:
    """The caller's role from ``X-API-Key``; anonymous without one, 401 for an unknown key.

    A key is a named user's (``cim users add``; the user is kept on ``request.state.user`` for the
    audit trail) or one of the server's ``--api-keys`` (a role without a name)."""
    request.state.user = None
    if x_api_key is None or x_api_key == "":
        return "anonymous"
    keys: dict[str, str] = request.app.state.api_keys
    role = None
    for key, value in keys.items():  # compare every key, in constant time each
        if hmac.compare_digest(key.encode(), x_api_key.encode()):
            role = value
    if role is None and x_api_key.startswith("cim_"):
        user = _users(request).resolve(x_api_key)
        if user is not None:
            role, request.state.user = user.role, user.id
    if role is None:
        raise Unauthorized("unknown API key: check the X-API-Key header, or send none to read public data")
    return role


def _users(request: Request) -> UserDirectory:
    directory = getattr(request.app.state, "users", None)
    if directory is None:
        directory = request.app.state.users = UserDirectory(request.app.state.city)
    return directory


async def get_user(request: Request, role: Annotated[str, Depends(get_role)]) -> str | None:
    """The named user behind the caller's key (None for anonymous or a bare ``--api-keys`` role)."""
    return getattr(request.state, "user", None)


Role = Annotated[str, Depends(get_role)]
UserDep = Annotated[str | None, Depends(get_user)]
CityDep = Annotated[City, Depends(get_city)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def requires(minimum: str, action: str) -> Callable[[str], str]:
    """A dependency that lets only ``minimum`` role and above through (403 otherwise).

    Example:
        >>> @router.post("/api/alerts/{id}/acknowledge", dependencies=[Depends(requires("operator", "acknowledging"))])
        ... def ack(id: str): ...                                        # doctest: +SKIP
    """

    def _check(role: Role) -> str:
        require_role(role, minimum, action)
        return role

    return _check


async def get_layer(
    city: CityDep,
    role: Role,
    layer: Annotated[str, Path(description="Layer (collection) name, as listed by /collections.",
                               max_length=64)],
) -> LayerInfo:
    """The layer the path names, as the caller's role sees it; 404 when missing or hidden.

    Async on purpose: the catalogue is cached until the city changes, so this is a dict lookup
    and the hot tile path needs no worker thread for it.
    """
    return layer_info(city, layer, role)


Layer = Annotated[LayerInfo, Depends(get_layer)]


#: times a request may ask about: far wider than any data, far from where date arithmetic overflows
EARLIEST_YEAR, LATEST_YEAR = 1000, 9000


def query_time(name: str, when: datetime | None) -> datetime | None:
    """A time parameter as given, refused (400) without a zone or outside years 1000–9000."""
    if when is None:
        return None
    if when.tzinfo is None:
        raise ValidationError(f"{name} has no time zone: add one, e.g. Z or +08:00")
    if not EARLIEST_YEAR <= when.year <= LATEST_YEAR:
        raise ValidationError(f"{name} {when.isoformat()[:32]} is outside the years {EARLIEST_YEAR}–{LATEST_YEAR} "
                              "a question about this city can be about")
    return when


def layer_token(info: LayerInfo) -> str:
    """What a response made from one layer depends on: that layer's own version (and when it was
    last changed), never the city's — so a change to a layer the caller may not see leaves the ETags
    of what it may see as they were (an ETag must not tell that a hidden layer changed)."""
    return f"{info.name}@{info.version}@{info.updated_at}"


@dataclass
class PageParams:
    """``limit`` / ``offset`` of a listing (clamped by the server's settings)."""

    limit: Annotated[int | None, Query(ge=1, description="Items per page (default 100; at most max_page_size).")] = None
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")] = 0


def page_limit(params: PageParams, settings: Settings) -> int:
    """The effective page size; a limit above the maximum is refused, not silently cut."""
    if params.limit is None:
        return min(settings.default_page_size, settings.max_page_size)
    if params.limit > settings.max_page_size:
        raise ValidationError(f"limit {params.limit} is above the maximum {settings.max_page_size}: "
                              "page through with offset and the 'next' link")
    return params.limit


def lonlat_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """A ``bbox=west,south,east,north`` query parameter in degrees, checked; None when absent."""
    if not text:
        return None
    try:
        box = tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise QueryError(f"bad bbox {text!r}: give west,south,east,north in degrees") from exc
    if len(box) != 4 or not (-180 <= box[0] <= box[2] <= 180 and -90 <= box[1] <= box[3] <= 90):
        raise QueryError(f"bad bbox {text!r}: give west,south,east,north in degrees, west <= east, south <= north")
    return box  # type: ignore[return-value]
