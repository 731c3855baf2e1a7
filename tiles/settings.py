"""Server settings, read once at the edge from ``CIM_*`` environment variables (or given in code).

Example:
    >>> Settings(city="demo/city.duckdb", api_keys='{"s3cret-key": "planner"}').max_page_size
    10000
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cim.access import ROLES
from cim.iot.mqtt_auth import MqttAuth, read_password

ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Everything the server can be told; ``CIM_CITY=demo/city.duckdb cim serve`` etc."""

    # keys and passwords are inputs too: errors never echo them (nor does repr, see the fields)
    model_config = SettingsConfigDict(env_prefix="CIM_", extra="ignore", hide_input_in_errors=True)

    city: str | None = Field(None, repr=False,  # a URL may carry a password
                              description="The city to serve: a DuckDB file, or a postgresql:// URL.")
    api_keys: str | None = Field(
        None, repr=False, description='API keys → roles: JSON text {"<key>": "<role>"} or the path of a JSON file.')
    max_page_size: int = Field(10_000, ge=1, description="Largest `limit` a client may ask for.")
    default_page_size: int = Field(100, ge=1, description="`limit` when the client gives none.")
    max_bbox_area_km2: float = Field(10_000.0, gt=0, description="Largest bbox a query may cover.")
    query_timeout_s: float = Field(5.0, ge=0, description="Longest a query made for one request may run, in "
                                   "seconds (0 = no limit); past it the request gets 503 with Retry-After.")
    count_max_rows: int = Field(100_000, ge=0, description="A filtered layer with more features than this gets no "
                                "`numberMatched` (counting would scan it all).")
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest request body.")
    tile_cache_mb: int = Field(256, ge=0, description="In-process cache of encoded tiles — vector, raster and "
                                                      "3D plans share it (0 = off).")
    prepare_tiles: bool = Field(True, description="Prepare and seed vector tiles of public layers at start-up.")
    seed_max_zoom: int = Field(16, ge=-1, le=16, description="Seed tiles up to this zoom (-1: prepare only).")
    cors_origins: list[str] = Field(default_factory=list, description="CORS origins; empty = CORS off.")
    viewer_dist: Path = Field(ROOT / "viewer" / "dist", description="The viewer's built files.")
    gzip_min_bytes: int = Field(1024, ge=0, description="Compress responses larger than this.")
    mqtt: str | None = Field(None, description="MQTT broker host:port; the IoT listener then runs in the server.")
    mqtt_username: str | None = Field(None, description="MQTT username of the in-server listener.")
    mqtt_password: SecretStr | None = Field(None, description="Its password (CIM_MQTT_PASSWORD; never logged).")
    mqtt_password_file: Path | None = Field(None, description="A file whose first line is the MQTT password.")
    mqtt_tls: bool = Field(False, description="Speak TLS to the broker (implied by a CA or client certificate).")
    mqtt_ca_file: Path | None = Field(None, description="CA certificate that signed the broker's certificate.")
    mqtt_cert_file: Path | None = Field(None, description="Client certificate, for brokers that require one.")
    mqtt_key_file: Path | None = Field(None, description="The client certificate's private key.")
    mqtt_tls_insecure: bool = Field(False, description="Skip the broker host name check (test brokers only).")
    catalog_refresh_s: float = Field(
        1.0, ge=0, description="A city in a database other processes write too (PostGIS): how often to look for "
                               "their layer changes, in seconds (0 = on every request).")

    @field_validator("city", mode="before")
    @classmethod
    def _city_text(cls, value: object) -> object:
        """A path is kept as its text (a URL must not go through ``Path``: it would lose a slash)."""
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @field_validator("api_keys")
    @classmethod
    def _keys_parse(cls, value: str | None) -> str | None:
        if value is not None:
            load_api_keys(value)
        return value

    def mqtt_auth(self) -> MqttAuth:
        """The in-server listener's credentials and TLS options (``CIM_MQTT_*``)."""
        secret = self.mqtt_password.get_secret_value() if self.mqtt_password else None
        password = secret if secret is not None else read_password(file=self.mqtt_password_file)
        files = {name: str(getattr(self, f"mqtt_{name}")) if getattr(self, f"mqtt_{name}") else None
                 for name in ("ca_file", "cert_file", "key_file")}
        return MqttAuth(username=self.mqtt_username, password=password, tls=self.mqtt_tls,
                        tls_insecure=self.mqtt_tls_insecure, **files)

    def keys(self) -> dict[str, str]:
        """API key → role."""
        return load_api_keys(self.api_keys) if self.api_keys else {}


def load_api_keys(value: str) -> dict[str, str]:
    """API key → role from JSON text or a JSON file; refuses unknown roles and short keys."""
    text = value.strip()
    if not text.startswith(("{", "[")):
        path = Path(text)
        if not path.is_file():
            raise ValueError(f"api keys: {text} is neither JSON nor a file; give '{{\"<key>\": \"planner\"}}'")
        text = path.read_text(encoding="utf-8")
    try:
        keys = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"api keys: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(keys, dict):
        raise ValueError('api keys: expected an object {"<key>": "<role>"}')
    for number, (key, role) in enumerate(keys.items(), start=1):
        entry = f"api keys: entry {number}"  # never the key, nor a role that is not one (a swapped key?)
        if role not in ROLES:
            raise ValueError(f"{entry}: unknown role, not one of {', '.join(ROLES[1:])} "
                             '(write {"<key>": "<role>"})')
        if role == "anonymous":
            raise ValueError(f"{entry} (anonymous): a key cannot carry the anonymous role (anonymous is no key at all)")
        if len(key) < 8:
            raise ValueError(f"{entry} ({role}): its key has {len(key)}; a key needs at least 8 characters")
    return keys


def settings_error(exc: ValidationError) -> str:
    """One line per bad setting, naming it and why — never its value (keys, passwords).

    Example:
        >>> try:
        ...     Settings(api_keys='{"short": "admin"}')
        ... except ValidationError as exc:
        ...     print(settings_error(exc))
        api keys: entry 1 (admin): its key has 5; a key needs at least 8 characters
    """
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in err.get("loc", ())) or "settings"
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        named = message.lower().startswith(where.replace("_", " "))
        lines.append(message if named else f"{where}: {message}")
    return "\n".join(lines) or "bad settings"
