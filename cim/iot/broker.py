"""A local mosquitto broker configured for the listener (tests, benchmarks, ``cim demo --live``).

Settings that matter for losing nothing, and that a production broker needs too:
``persistence true`` (queued QoS 1 messages survive a broker restart) and
``max_queued_messages 0`` (no cap on what the broker queues for a listener that is down; the
default of 1000 drops the rest).

With ``users`` it refuses anonymous clients: a password file made with ``mosquitto_passwd -b`` and,
with ``acl``, an ACL file saying which user may read or write which topics. With ``tls`` (CA,
certificate and key files) it speaks TLS only.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from cim.errors import CIMError
from cim.testing import free_port

CONFIG = """\
listener {port} 127.0.0.1
user {user}
{access}
persistence true
persistence_location {folder}/
autosave_interval 1
max_queued_messages 0
max_queued_bytes 0
log_dest file {folder}/mosquitto.log
log_type error
log_type warning
log_type notice
"""


def _user() -> str:
    """Run as whoever starts it (as root mosquitto would switch to a user that cannot write here)."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        return "root"


class LocalBroker:
    """mosquitto on a loopback port, its config, data and log in ``folder``.

    Example:
        >>> with LocalBroker(tmp_path) as broker:        # doctest: +SKIP
        ...     MqttListener(city, broker.address).start()
    """

    def __init__(self, folder: str | Path, port: int | None = None, *, users: dict[str, str] | None = None,
                 acl: str | None = None, tls: tuple[str, str, str] | None = None) -> None:
        self.folder = Path(folder)
        self.port = port or free_port()
        self.users, self.acl, self.tls = users, acl, tls
        self.process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> LocalBroker:
        """Start mosquitto and wait until it accepts connections."""
        exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if exe is None:
            raise CIMError("mosquitto is not installed: apt-get install mosquitto (scripts/install-system.sh does it)")
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "mosquitto.conf"
        conf.write_text(CONFIG.format(port=self.port, folder=self.folder, user=_user(), access=self._access()),
                        encoding="utf-8")
        self.process = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CIMError(f"mosquitto exited at start (code {self.process.returncode}); see "
                               f"{self.folder / 'mosquitto.log'}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise CIMError(f"mosquitto did not listen on port {self.port} within {timeout} s")

    def _access(self) -> str:
        """Config lines for who may connect and what they may do (anonymous when no users)."""
        lines = []
        if self.tls:
            ca, cert, key = self.tls
            lines += [f"cafile {ca}", f"certfile {cert}", f"keyfile {key}"]
        if not self.users:
            return "\n".join([*lines, "allow_anonymous true"])
        passwd = self.folder / "passwd"
        passwd.unlink(missing_ok=True)
        tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
        for name, password in self.users.items():
            create = [] if passwd.exists() else ["-c"]
            subprocess.run([tool, "-b", *create, str(passwd), name, password], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        passwd.chmod(0o600)
        lines += ["allow_anonymous false", f"password_file {passwd}"]
        if self.acl is not None:
            acl = self.folder / "acl"
            acl.write_text(self.acl, encoding="utf-8")
            acl.chmod(0o600)
            lines.append(f"acl_file {acl}")
        return "\n".join(lines)

    def stop(self) -> None:
        """Stop mosquitto (it saves its persistent queue on the way out)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self, pause: float = 0.0) -> None:
        """Stop, optionally wait, and start again on the same port with the same data."""
        self.stop()
        time.sleep(pause)
        self.start()

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
