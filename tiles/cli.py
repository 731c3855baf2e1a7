"""``cim serve CITY``: the web server (OGC APIs, tiles, the viewer) with uvicorn."""

from __future__ import annotations

from pathlib import Path

import typer

from cim.cli.common import CITY_HELP, console, fail


def register(app: typer.Typer) -> None:
    """Add ``cim serve`` to ``app``."""
    app.command("serve")(serve)


def serve(
    city: str = typer.Argument(..., help=CITY_HELP),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0 to serve the network)."),
    port: int = typer.Option(8000, help="TCP port."),
    api_keys: str = typer.Option(None, help='API keys → roles: a JSON file or text {"<key>": "planner"}.'),
    log_level: str = typer.Option("info", help="uvicorn log level: debug, info, warning, error."),
    mqtt: str = typer.Option(None, help="MQTT broker host:port: store sensor messages from it while serving "
                                        "(the listener runs inside the server; a city file has one writer)."),
    query_timeout: float = typer.Option(None, help="Longest a query made for one request may run, in seconds "
                                                   "(default 5, CIM_QUERY_TIMEOUT_S; 0 = no limit); past it "
                                                   "the request gets 503 with Retry-After."),
    cors_origin: list[str] = typer.Option(None, help="A web page's origin allowed to call the APIs from the "
                                                     "browser, e.g. http://127.0.0.1:8080 (repeatable)."),
) -> None:
    """Serve the city: OGC API Features/Tiles, 3D Tiles, SensorThings and the viewer at http://HOST:PORT/."""
    try:
        import uvicorn
        from pydantic import ValidationError

        from tiles import Settings, create_app
        from tiles.settings import settings_error
    except ImportError as exc:  # pragma: no cover - the server extra is missing
        fail(f"the server needs its extra: pip install 'cim[server]' ({exc.name} is missing)")
    location = _check_city(city)
    try:
        settings = Settings(city=city, **({"api_keys": api_keys} if api_keys else {}),
                            **({"mqtt": mqtt} if mqtt else {}),
                            **({"cors_origins": cors_origin} if cors_origin else {}),
                            **({"query_timeout_s": query_timeout} if query_timeout is not None else {}))
    except ValidationError as exc:
        fail(settings_error(exc))
    app = create_app(settings)
    console.print(f"serving {location} at http://{host}:{port}/  (API: http://{host}:{port}/api.html)")
    uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=False)


def _check_city(city: str) -> str:
    """Fail now, in one line, when there is no city to serve; returns how to name it (no password)."""
    from cim.errors import CIMError
    from cim.store import is_url

    if not is_url(city):
        if not Path(city).is_file():
            fail(f"no city at {city}: build one with `cim demo {city}` or `cim init {city}`")
        return city
    import cim

    try:
        with cim.open(city, read_only=True) as probe:
            return probe.location
    except CIMError as exc:
        fail(str(exc))
