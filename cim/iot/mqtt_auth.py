"""How an MQTT client proves who it is and protects the line: username/password and TLS.

A broker that serves the city must refuse anonymous clients and allow each client only its own
topics (docs/iot.md has a mosquitto password file and ACL per datastream topic prefix). The
password comes from an environment variable or a file; on a command line it would show in the
process list, so that form is accepted with a warning only.

Example:
    >>> auth = MqttAuth(username="cim-listener", password=read_password(env="CIM_MQTT_PASSWORD"),
    ...                 ca_file="/etc/mosquitto/ca.crt")   # doctest: +SKIP
    >>> MqttListener(city, "broker.example:8883", auth=auth)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cim.errors import ValidationError

log = logging.getLogger("cim.iot.mqtt")


@dataclass(frozen=True)
class MqttAuth:
    """Credentials and TLS options of one MQTT client (all optional: none = anonymous, plain TCP)."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False                     # TLS with the system's CAs when no ca_file is given
    ca_file: str | None = None            # CA that signed the broker's certificate
    cert_file: str | None = None          # client certificate (brokers that require one)
    key_file: str | None = None           # its private key
    tls_insecure: bool = False            # skip the broker host name check (test brokers only)

    @property
    def uses_tls(self) -> bool:
        """True when the connection is encrypted."""
        return self.tls or bool(self.ca_file or self.cert_file)

    def check(self) -> MqttAuth:
        """The options themselves when consistent; a ValidationError saying what to fix otherwise."""
        if self.password is not None and not self.username:
            raise ValidationError("an MQTT password needs a username (--username)")
        if bool(self.cert_file) != bool(self.key_file):
            raise ValidationError("a client certificate needs its key and a key its certificate "
                                  "(--cert-file with --key-file)")
        for what, path in (("CA file", self.ca_file), ("certificate", self.cert_file), ("key", self.key_file)):
            if path and not Path(path).is_file():
                raise ValidationError(f"MQTT {what} {path} does not exist")
        return self

    def apply(self, client: Any) -> None:
        """Set the credentials and TLS context on a paho client before it connects."""
        self.check()
        if self.username:
            client.username_pw_set(self.username, self.password)
        if self.uses_tls:
            client.tls_set(ca_certs=self.ca_file, certfile=self.cert_file, keyfile=self.key_file)
            if self.tls_insecure:
                client.tls_insecure_set(True)


def read_password(*, env: str | None = None, file: str | Path | None = None, text: str | None = None) -> str | None:
    """The password from an environment variable, a file (first line) or, with a warning, text.

    Why three: a service manager hands secrets over in the environment or a file readable by the
    service only; text typed on a command line is visible to every user of the machine (``ps``).
    """
    given = [what for what, value in (("env", env), ("file", file), ("text", text)) if value]
    if len(given) > 1:
        raise ValidationError("give the MQTT password one way: --password-env, --password-file or --password")
    if env:
        if env not in os.environ:
            raise ValidationError(f"environment variable {env} is not set (it should hold the MQTT password)")
        return os.environ[env]
    if file:
        try:
            lines = Path(file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ValidationError(f"cannot read the MQTT password file {file}: {exc.strerror}") from exc
        return lines[0] if lines else ""
    if text:
        log.warning("the MQTT password was given on the command line, where other users of this machine can "
                    "read it: use --password-env or --password-file")
        return text
    return None
