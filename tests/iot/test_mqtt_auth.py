"""MQTT with credentials, ACLs and TLS on a real mosquitto that refuses anonymous clients: the listener
connects with its password and is refused without it; a client without write rights on a datastream's
topic cannot inject observations; TLS with a CA file works from Python and from `cim iot listen`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cim.errors import CIMError, ValidationError
from cim.iot import MqttAuth, read_password
from cim.iot.broker import LocalBroker
from cim.iot.mqtt import MqttListener, topic_prefix
from cim.iot.publish import Publisher
from tests.iot.conftest import wait_for

USERS = {"cim-listener": "listen-pw-1", "gateway-ws": "gateway-pw-2", "viewer-only": "viewer-pw-3"}


def _acl(prefix: str) -> str:
    """The ACL of docs/iot.md: the listener reads the city's topics, a gateway writes its own datastream."""
    return (f"user cim-listener\ntopic read {prefix}/#\n\n"
            f"user gateway-ws\ntopic write {prefix}/obs/ws.dust\n\n"
            f"user viewer-only\ntopic read {prefix}/obs/#\n")


def _need_mosquitto() -> None:
    if not shutil.which("mosquitto") and not Path("/usr/sbin/mosquitto").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("mosquitto is missing: run scripts/install-system.sh")
        pytest.skip("mosquitto is not installed")


@pytest.fixture
def locked_broker(iot_city, tmp_path):
    """mosquitto with allow_anonymous false, a password file (mosquitto_passwd -b) and an ACL file."""
    _need_mosquitto()
    with LocalBroker(tmp_path / "broker", users=USERS, acl=_acl(topic_prefix(iot_city))) as b:
        yield b


def _stored_times(city) -> list[datetime]:
    return [r[0] for r in city.store.rows("SELECT phenomenon_time FROM iot_observations ORDER BY 1")]


def test_the_listener_connects_with_credentials_and_is_refused_without(iot_city, locked_broker):
    anonymous = MqttListener(iot_city, locked_broker.address, client_id="anon", stale_every=0).start()
    try:
        assert wait_for(lambda: "refused" in (anonymous.stats.last_error or ""), 20)
        assert not anonymous.connected.is_set()
    finally:
        anonymous.stop()
    wrong = MqttListener(iot_city, locked_broker.address, client_id="wrong", stale_every=0,
                         auth=MqttAuth(username="cim-listener", password="not-it")).start()
    try:
        assert wait_for(lambda: "refused" in (wrong.stats.last_error or ""), 20)
        assert not wrong.connected.is_set()
    finally:
        wrong.stop()
    listener = MqttListener(iot_city, locked_broker.address, client_id="cim-listener", stale_every=0,
                            flush_interval=0.05, auth=MqttAuth(username="cim-listener", password="listen-pw-1"))
    listener.start()
    try:
        assert listener.connected.wait(15), listener.stats.last_error
    finally:
        listener.stop()


def test_a_client_without_write_rights_cannot_inject_observations(iot_city, locked_broker):
    prefix = topic_prefix(iot_city)
    listener = MqttListener(iot_city, locked_broker.address, client_id="cim-listener", stale_every=0,
                            flush_interval=0.05, auth=MqttAuth(username="cim-listener", password="listen-pw-1"))
    listener.start()
    assert listener.connected.wait(15), listener.stats.last_error
    now = datetime.now(UTC).replace(microsecond=0)
    forged, elsewhere, real = (now - timedelta(minutes=m) for m in (3, 2, 1))
    try:
        with pytest.raises(CIMError, match="did not accept"):
            Publisher(locked_broker.address)  # anonymous: not even connected
        with Publisher(locked_broker.address, auth=MqttAuth(username="viewer-only", password="viewer-pw-3")) as pub:
            pub.observation(prefix, "ws.dust", forged.isoformat(), 999.0)  # no write right: the broker drops it
            assert pub.flush(10)
        with Publisher(locked_broker.address, auth=MqttAuth(username="gateway-ws", password="gateway-pw-2")) as pub:
            pub.observation(prefix, "ws.noise", elsewhere.isoformat(), 998.0)  # not its datastream's topic
            pub.batch(prefix, [["ws.dust", elsewhere.isoformat(), 997.0]])  # nor the batch topic
            pub.observation(prefix, "ws.dust", real.isoformat(), 41.0)  # its own: allowed
            assert pub.flush(10)
        assert wait_for(lambda: listener.stats.stored >= 1)
    finally:
        listener.stop()
    assert _stored_times(iot_city) == [real] and listener.stats.messages == 1


def _certificates(folder: Path) -> tuple[str, str, str]:
    """A throw-away CA and a broker certificate for 127.0.0.1, made with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert, ext = (str(folder / n) for n in
                                       ("ca.key", "ca.crt", "broker.key", "broker.csr", "broker.crt", "san.cnf"))
    Path(ext).write_text("subjectAltName=IP:127.0.0.1\n", encoding="utf-8")
    for args in (["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
                  "-subj", "/CN=cim test CA"],
                 ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"],
                 ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
                  "-days", "2", "-extfile", ext]):
        subprocess.run([openssl, *args], check=True, capture_output=True)
    Path(key).chmod(0o644)  # mosquitto runs as this user and reads it
    return ca, cert, key


def test_tls_with_a_ca_file_from_python_and_from_the_command_line(iot_location, iot_city, tmp_path, backend):
    _need_mosquitto()
    ca, cert, key = _certificates(tmp_path / "tls")
    prefix = topic_prefix(iot_city)
    tls_listener = MqttAuth(username="cim-listener", password="listen-pw-1", ca_file=ca)
    with LocalBroker(tmp_path / "broker", users=USERS, acl=_acl(prefix), tls=(ca, cert, key)) as broker:
        plain = MqttListener(iot_city, broker.address, client_id="plain", stale_every=0,
                             auth=MqttAuth(username="cim-listener", password="listen-pw-1")).start()
        try:
            assert wait_for(lambda: plain.stats.last_error is not None, 20) and not plain.connected.is_set()
        finally:
            plain.stop()
        listener = MqttListener(iot_city, broker.address, client_id="cim-listener", stale_every=0,
                                flush_interval=0.05, auth=tls_listener).start()
        assert listener.connected.wait(15), listener.stats.last_error
        now = datetime.now(UTC).replace(microsecond=0)
        try:
            with Publisher(broker.address, auth=MqttAuth(username="gateway-ws", password="gateway-pw-2",
                                                          ca_file=ca)) as pub:
                pub.observation(prefix, "ws.dust", (now - timedelta(minutes=1)).isoformat(), 41.0)
            assert wait_for(lambda: listener.stats.stored >= 1)
        finally:
            listener.stop()
        iot_city.close()
        if backend != "duckdb":
            return  # the command line below opens the file city
        with Publisher(broker.address, auth=MqttAuth(username="gateway-ws", password="gateway-pw-2",
                                                      ca_file=ca)) as pub:
            pub.observation(prefix, "ws.dust", now.isoformat(), 42.0)  # queued for the listener's session
        env = {**os.environ, "LISTENER_PW": "listen-pw-1"}
        run = subprocess.run([sys.executable, "-m", "cim", "iot", "listen", str(iot_location), "--broker",
                              broker.address, "--client-id", "cim-listener", "--username", "cim-listener",
                              "--password-env", "LISTENER_PW", "--ca-file", ca, "--exit-when-idle", "2"],
                             capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    assert "stored 1" in run.stdout and "listen-pw-1" not in run.stdout + run.stderr


def test_passwords_come_from_the_environment_or_a_file_and_text_warns(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MY_MQTT_PW", "from-env")
    (tmp_path / "pw").write_text("from-file\nignored\n", encoding="utf-8")
    assert read_password(env="MY_MQTT_PW") == "from-env"
    assert read_password(file=tmp_path / "pw") == "from-file"
    with caplog.at_level("WARNING"):
        assert read_password(text="typed") == "typed"
    assert "command line" in caplog.text
    with pytest.raises(ValidationError, match="one way"):
        read_password(env="MY_MQTT_PW", text="typed")
    with pytest.raises(ValidationError, match="NOT_SET_ANYWHERE is not set"):
        read_password(env="NOT_SET_ANYWHERE")
    with pytest.raises(ValidationError, match="needs a username"):
        MqttAuth(password="x").check()
    with pytest.raises(ValidationError, match="does not exist"):
        MqttAuth(ca_file=str(tmp_path / "missing.crt")).check()


def test_the_server_listener_takes_its_credentials_from_cim_mqtt_settings(iot_city, locked_broker, monkeypatch):
    from fastapi.testclient import TestClient

    from tiles import create_app

    monkeypatch.setenv("CIM_MQTT_USERNAME", "cim-listener")
    monkeypatch.setenv("CIM_MQTT_PASSWORD", "listen-pw-1")
    prefix = topic_prefix(iot_city)
    with TestClient(create_app(iot_city, mqtt=locked_broker.address, prepare_tiles=False)) as client:
        listener = client.app.state.sensor_events.listener
        assert listener.connected.wait(15), listener.stats.last_error
        when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        with Publisher(locked_broker.address, auth=MqttAuth(username="gateway-ws", password="gateway-pw-2")) as pub:
            pub.observation(prefix, "ws.dust", when.isoformat(), 43.0)
        assert wait_for(lambda: listener.stats.stored >= 1)
        assert "listen-pw-1" not in repr(client.app.state.settings)
    assert _stored_times(iot_city) == [when]
