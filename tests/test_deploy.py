"""What deploy/ gives a server: systemd units that systemd accepts, a Caddyfile that Caddy accepts
and that does what the README says in front of a real receiver, and an env file naming every
production setting. Each tool's check is skipped, with the reason, where the tool is missing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundation.settings import Settings
from tests.ingest.receiver_harness import Receiver, eventually, free_port, request

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
SETTINGS_SOURCE = Path(__file__).resolve().parent.parent / "foundation" / "settings.py"
# Settings for tests and backfills, not for a server.
NOT_FOR_PRODUCTION = {"PBX55_AS_OF_UTC", "PBX55_SCHEMA_PREFIX"}
SYSTEM_UNITS = Path("/usr/lib/systemd/system")


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


def env_file_settings() -> dict[str, str]:
    """The uncommented lines of the sample env file, as systemd's EnvironmentFile= reads them."""
    lines = (DEPLOY / "pbx55.env.example").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#")]
    return {name: value for name, value in pairs}


def fake_root(root: Path) -> Path:
    """A root for `systemd-analyze verify --root`: the system's units, the units under test, and
    the programs they start, where the README installs them."""
    if not SYSTEM_UNITS.is_dir():
        pytest.skip(f"no systemd units in {SYSTEM_UNITS}")
    shutil.copytree(SYSTEM_UNITS, root / SYSTEM_UNITS.relative_to("/"), symlinks=True)
    units = root / "etc/systemd/system"
    units.mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(unit, units)
        for program in re.findall(r"^#?ExecStart=(\S+)", unit.read_text(), re.MULTILINE):
            binary = root / program.lstrip("/")
            binary.parent.mkdir(parents=True, exist_ok=True)
            binary.write_text("#!/bin/sh\n")
            binary.chmod(0o755)
    return units


def test_systemd_accepts_the_units_and_the_receivers_https_variant(tmp_path: Path) -> None:
    systemd_analyze = tool("systemd-analyze")
    assert [unit.name for unit in UNITS] == [
        "pbx55-dagster-daemon.service",
        "pbx55-dagster-webserver.service",
        "pbx55-receiver.service",
    ]
    units = fake_root(tmp_path / "root")
    # The commented block for HTTPS by the receiver itself, uncommented as a user would.
    receiver = (units / "pbx55-receiver.service").read_text()
    https_block = receiver[receiver.index("# HTTPS by the receiver itself") :]
    uncommented = re.sub(r"^#(?=[A-Z]\w*=)", "", https_block, flags=re.MULTILINE)
    (units / "pbx55-receiver-https.service").write_text(receiver.replace(https_block, uncommented))

    result = subprocess.run(
        [systemd_analyze, "verify", f"--root={tmp_path / 'root'}", *sorted(units.glob("*"))],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # verify exits 0 even for unknown keys and bad values; it only prints them.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_units_write_only_the_data_directory_of_the_env_file() -> None:
    data_dir = Path(env_file_settings()["PBX55_DATA_DIR"])
    dagster_home = Settings.from_env({"PBX55_DATA_DIR": str(data_dir)}).dagster_home
    for unit in UNITS:
        text = unit.read_text()
        assert re.findall(r"^ReadWritePaths=(.*)$", text, re.MULTILINE) == [str(data_dir)]
        for setting in (
            "User=pbx55",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "NoNewPrivileges=yes",
            "EnvironmentFile=/etc/pbx55/pbx55.env",
        ):
            assert f"\n{setting}\n" in text, f"{unit.name}: {setting}"
        if "dagster" in unit.name:
            assert f"\nEnvironment=DAGSTER_HOME={dagster_home}\n" in text


def test_the_env_file_names_every_production_setting() -> None:
    read_by_settings = set(re.findall(r'"(PBX55_[A-Z0-9_]+)"', SETTINGS_SOURCE.read_text()))
    in_env_file = set(
        re.findall(
            r"^#?(PBX55_[A-Z0-9_]+)=", (DEPLOY / "pbx55.env.example").read_text(), re.MULTILINE
        )
    )
    missing = read_by_settings - NOT_FOR_PRODUCTION - in_env_file
    assert not missing, f"add {sorted(missing)} to deploy/pbx55.env.example"
    assert not in_env_file - read_by_settings, "the env file names settings that do not exist"
    # With its secrets filled in, the file is a valid configuration.
    filled = env_file_settings() | {"PBX55_TOKENS": "x" * 32, "PBX55_PII_KEY": "y" * 32}
    settings = Settings.from_env(filled)
    assert settings.trusted_proxies == ("127.0.0.1",)


def caddy_sizes_and_timeouts(caddyfile: str) -> dict[str, str]:
    return dict(
        re.findall(
            r"^\s*(max_size|max_header_size|read_header|read_body) (\S+)$", caddyfile, re.MULTILINE
        )
    )


def test_caddy_enforces_the_receivers_default_limits() -> None:
    defaults = Settings.from_env({})
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    # The declared-length check and the answers name the body limit in bytes.
    assert set(re.findall(r"\b\d{5,}\b", caddyfile)) == {str(defaults.max_body_bytes)}
    assert caddy_sizes_and_timeouts(caddyfile) == {
        "max_size": f"{defaults.max_body_bytes // 1024}KiB",
        "max_header_size": f"{defaults.max_header_bytes // 1024}KiB",
        "read_header": f"{defaults.header_timeout_s:g}s",
        "read_body": f"{defaults.body_timeout_s:g}s",
    }


@pytest.fixture
def caddy_env(tmp_path: Path) -> dict[str, str]:
    """Caddy's own files (autosaved config, certificates) in the test's directory."""
    home = tmp_path / "caddy-home"
    home.mkdir()
    return os.environ | {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }


def test_caddy_accepts_the_caddyfile(caddy_env: dict[str, str]) -> None:
    caddy = tool("caddy")
    result = subprocess.run(
        [caddy, "validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        env=caddy_env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Valid configuration" in result.stdout + result.stderr


@pytest.fixture
def caddy_in_front(
    env: dict[str, str], caddy_env: dict[str, str], tmp_path: Path
) -> Iterator[tuple[int, Receiver]]:
    """The deploy Caddyfile, on plain HTTP at a free loopback port (no certificate to obtain
    here) with debug logs, proxying to a real receiver that trusts forwarding headers from
    127.0.0.1."""
    caddy = tool("caddy")
    receiver = Receiver(env | {"PBX55_TRUSTED_PROXIES": "127.0.0.1"}, tmp_path / "receiver.log")
    receiver.start()
    port = free_port()
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    for old, new in (
        # Debug logging: Caddy then logs every request it proxies, headers and URI included.
        ("\n{\n", "\n{\n\tadmin off\n\tdebug\n"),
        ("\npushes.example.com {\n", f"\nhttp://127.0.0.1:{port} {{\n"),
        ("reverse_proxy 127.0.0.1:8055", f"reverse_proxy 127.0.0.1:{receiver.port}"),
    ):
        assert caddyfile.count(old) == 1, old
        caddyfile = caddyfile.replace(old, new)
    config = tmp_path / "Caddyfile"
    config.write_text(caddyfile)
    log = (tmp_path / "caddy.log").open("wb")
    process = subprocess.Popen(
        [caddy, "run", "--config", str(config), "--adapter", "caddyfile"],
        env=caddy_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                request(port, "GET", "/healthz")
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "caddy.log").read_text()
                assert time.monotonic() < deadline, "caddy did not answer"
                time.sleep(0.1)
        yield port, receiver
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        if receiver.process is not None and receiver.process.poll() is None:
            receiver.kill()


def test_behind_caddy_pushes_land_with_the_real_client_and_the_limits_hold(
    caddy_in_front: tuple[int, Receiver], tmp_path: Path
) -> None:
    port, receiver = caddy_in_front
    push = b'{"central_id": "1000", "call_id": "1.1"}'
    token = {"token": receiver.token}
    # The client connects to Caddy from 127.0.0.3, Caddy to the receiver from 127.0.0.1; what
    # the client claims in X-Forwarded-For itself is not believed.
    spoofed = token | {"X-Forwarded-For": "198.51.100.66"}
    answer = request(port, "POST", "/pushes", push, spoofed, source_address="127.0.0.3")
    assert answer.status == 200
    too_large = b'{"a": "' + b"b" * 70_000 + b'"}'
    assert request(port, "POST", "/pushes", too_large, token).status == 413
    assert request(port, "POST", "/pushes", too_large, token, chunked=True).status == 413
    assert request(port, "GET", "/metrics").status == 404
    assert request(port, "GET", "/readyz").status == 200
    receiver.terminate()
    access = [line for line in receiver.log_text().splitlines() if " ingest.access: " in line]
    (landed,) = [line for line in access if " 200 " in line and "POST" in line]
    assert landed.endswith(" client=127.0.0.3 scheme=http")

    # With the receiver down Caddy answers 502 and logs the request: never with the token.
    on_query = f"/pushes?token={receiver.token}"
    assert (
        request(port, "POST", on_query, push, token | {"Authorization": "Bearer x"}).status == 502
    )
    caddy_log_path = tmp_path / "caddy.log"
    assert eventually(lambda: '"status":502' in caddy_log_path.read_text())
    caddy_log = caddy_log_path.read_text()
    assert receiver.token not in caddy_log
    assert "Bearer" not in caddy_log
