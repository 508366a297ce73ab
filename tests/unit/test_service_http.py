"""The HTTP endpoint served for real (uvicorn on loopback, httpx): token, binding, readiness."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from entrepot.cli.exitcodes import ExitCode, exit_code_for
from entrepot.errors import ConfigError
from entrepot.jobs import Ledger
from entrepot.service.config import Config
from entrepot.service.http import HttpEndpoint, start_http
from entrepot.service.metrics import PrometheusTelemetry
from entrepot.service.readings import BoundedCall
from entrepot.service.telemetry import Telemetry

TOKEN = "a-long-random-token-0123456789"


def make_config(tmp_path: Path, *, token: str | None = TOKEN, mode: int = 0o600) -> Config:
    service: dict[str, object] = {"listen": "127.0.0.1:9180", "state": str(tmp_path / "state")}
    if token is not None:
        file = tmp_path / "token"
        file.write_text(token + "\n")
        file.chmod(mode)
        service["token_file"] = str(file)
    return Config.model_validate(
        {
            "service": service,
            "spools": {"out": {"path": str(tmp_path / "out")}},
            "targets": {"t": {"url": f"file://{tmp_path / 'remote'}"}},
            "routes": {"r": {"spool": "out", "target": "t", "every": "1m"}},
        }
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "state") as book:
        yield book


@pytest.fixture
def endpoint(tmp_path: Path, ledger: Ledger) -> Iterator[HttpEndpoint]:
    config = make_config(tmp_path)
    telemetry = PrometheusTelemetry(config, ledger=ledger)
    telemetry.config_loaded(1, True)
    served = start_http(config, telemetry, listen="127.0.0.1:0")
    assert served is not None
    yield served
    served.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("path", ["/readyz", "/metrics", "/no-such-page"])
def test_everything_but_healthz_needs_the_token(endpoint: HttpEndpoint, path: str) -> None:
    url = endpoint.url + path
    missing = httpx.get(url)
    wrong = httpx.get(url, headers=bearer("a-long-random-token-0123456788"))
    not_bearer = httpx.get(url, headers={"Authorization": TOKEN})
    for refused in (missing, wrong, not_bearer):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert TOKEN not in refused.text
    # The same answer whether a token was sent or not: nothing to learn from it.
    assert missing.text == wrong.text == not_bearer.text
    allowed = httpx.get(url, headers=bearer(TOKEN))
    assert allowed.status_code == (404 if path == "/no-such-page" else 200)


def test_healthz_answers_without_a_token(endpoint: HttpEndpoint) -> None:
    response = httpx.get(endpoint.url + "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}
    assert httpx.head(endpoint.url + "/healthz").status_code == 200


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o602])
def test_a_token_file_others_may_read_is_refused(tmp_path: Path, ledger: Ledger, mode: int) -> None:
    config = make_config(tmp_path, mode=mode)
    with pytest.raises(ConfigError, match="chmod 600") as caught:
        start_http(config, PrometheusTelemetry(config, ledger=ledger), listen="127.0.0.1:0")
    assert exit_code_for(caught.value) == ExitCode.CONFIG


def test_an_empty_or_missing_token_file_is_refused(tmp_path: Path, ledger: Ledger) -> None:
    config = make_config(tmp_path, token="   ")
    with pytest.raises(ConfigError, match="empty"):
        start_http(config, PrometheusTelemetry(config), listen="127.0.0.1:0")
    (tmp_path / "token").unlink()
    with pytest.raises(ConfigError, match="token file"):
        start_http(config, PrometheusTelemetry(config), listen="127.0.0.1:0")


def test_a_port_already_taken_is_a_configuration_error(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"127.0.0.1:{port}.*in use") as caught:
            start_http(config, PrometheusTelemetry(config), listen=f"127.0.0.1:{port}")
    assert exit_code_for(caught.value) == ExitCode.CONFIG


def test_no_token_is_only_allowed_on_loopback(tmp_path: Path) -> None:
    config = make_config(tmp_path, token=None)
    with pytest.raises(ConfigError, match="token_file"):
        start_http(config, PrometheusTelemetry(config), listen="0.0.0.0:0")
    served = start_http(config, PrometheusTelemetry(config), listen="127.0.0.1:0")
    assert served is not None
    try:
        assert httpx.get(served.url + "/metrics").status_code == 200
    finally:
        served.stop()


def test_nothing_listens_without_an_address(tmp_path: Path) -> None:
    config = Config.model_validate({"service": {"state": str(tmp_path)}})
    assert start_http(config, PrometheusTelemetry(config)) is None


def test_stop_frees_the_port(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    served = start_http(config, PrometheusTelemetry(config), listen="127.0.0.1:0")
    assert served is not None
    port = served.port
    served.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz")
    again = start_http(config, PrometheusTelemetry(config), listen=f"127.0.0.1:{port}")
    assert again is not None
    again.stop()


def test_not_ready_until_a_configuration_is_loaded(tmp_path: Path, ledger: Ledger) -> None:
    config = make_config(tmp_path)
    telemetry = PrometheusTelemetry(config, ledger=ledger)
    served = start_http(config, telemetry, listen="127.0.0.1:0")
    assert served is not None
    try:
        waiting = httpx.get(served.url + "/readyz", headers=bearer(TOKEN))
        assert waiting.status_code == 503
        assert waiting.json()["problems"] == ["no configuration is loaded yet"]
        telemetry.config_loaded(1, True)
        assert httpx.get(served.url + "/readyz", headers=bearer(TOKEN)).status_code == 200
    finally:
        served.stop()


def test_a_bounded_call_gives_up_waiting_and_never_piles_up_threads() -> None:
    release = threading.Event()
    calls: list[float] = []

    def slow() -> int:
        calls.append(time.monotonic())
        release.wait(60)
        return 42

    bounded = BoundedCall(slow, timeout=0.2, what="the slow thing")
    for _ in range(3):
        with pytest.raises(TimeoutError, match="the slow thing did not answer"):
            bounded()
    assert len(calls) == 1  # the callers joined the call in flight
    release.set()
    bounded.timeout = 60  # from here on nothing is slow: wait as long as a loaded machine needs
    assert bounded() == 42
    asked = len(calls)
    assert bounded() == 42
    assert len(calls) == asked + 1  # a finished call is never answered again: it asks anew


def test_the_endpoint_needs_the_prometheus_telemetry(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with pytest.raises(TypeError, match="PrometheusTelemetry"):
        start_http(config, Telemetry(), listen="127.0.0.1:0")  # type: ignore[arg-type]


def test_an_ipv6_loopback_address_is_served(tmp_path: Path) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    config = make_config(tmp_path, token=None)
    served = start_http(config, PrometheusTelemetry(config), listen="[::1]:0")
    assert served is not None
    try:
        assert served.url.startswith("http://[::1]:")
        assert httpx.get(served.url + "/healthz").status_code == 200
    finally:
        served.stop()
