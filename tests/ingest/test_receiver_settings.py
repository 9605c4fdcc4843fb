"""The receiver's settings: tokens that look like a list written wrong, and the limits."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from foundation.settings import Settings

GOOD = "a-long-enough-token-1234"
OTHER = "another-long-token-5678"


@pytest.mark.parametrize(
    ("tokens", "problem"),
    [
        ("abc", "entry 1 of 1 is only 3 characters long (a token split at a comma?)"),
        ("first-part-of-a-token,xyz", "entry 2 of 2 is only 3 characters long"),
        (f"{GOOD},", "entry 2 of 2 is empty (a stray comma?)"),
        (f"{GOOD},,{OTHER}", "entry 2 of 3 is empty"),
        (f"{GOOD} {OTHER}", "entry 1 of 1 contains whitespace (a list separated by spaces?)"),
        (f'"{GOOD}"', "entry 1 of 1 contains a quote or a semicolon"),
        (f"{GOOD};{OTHER}", "entry 1 of 1 contains a quote or a semicolon"),
        (f"{GOOD}\x00", "entry 1 of 1 contains a control or non-ASCII character"),
        (f"{GOOD},{GOOD}", "entry 2 of 2 repeats entry 1"),
    ],
)
def test_bad_tokens_stop_the_start_with_one_line(
    env: dict[str, str], tokens: str, problem: str
) -> None:
    if "\x00" in tokens:  # no environment variable can hold a NUL: check the parser directly
        with pytest.raises(ValueError, match=problem):
            Settings.from_env({**env, "PBX55_TOKENS": tokens})
        return
    result = subprocess.run(
        [sys.executable, "-m", "pbx55.cli", "serve", "--port", "1"],
        env={**os.environ, **env, "PBX55_TOKENS": tokens},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("pbx55: configuration error: PBX55_TOKENS: ")
    assert problem in line
    assert "comma" in line  # the error explains the separator
    output = result.stdout + result.stderr
    for secret in (GOOD, OTHER, "first-part-of-a-token", "abc", "xyz"):
        assert secret not in output


def test_good_tokens() -> None:
    assert Settings.from_env({"PBX55_TOKENS": f" {GOOD} , {OTHER} "}).tokens == (GOOD, OTHER)
    assert Settings.from_env({"PBX55_TOKENS": "  "}).tokens == ()
    assert Settings.from_env({}).tokens == ()


def test_limit_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.max_header_bytes, settings.max_headers) == (16384, 100)
    assert (settings.header_timeout_s, settings.body_timeout_s) == (10.0, 30.0)
    assert (settings.idle_timeout_s, settings.max_connections) == (5.0, 1000)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PBX55_MAX_HEADER_BYTES", "0"),
        ("PBX55_MAX_HEADERS", "2.5"),
        ("PBX55_HEADER_TIMEOUT_S", "-1"),
        ("PBX55_BODY_TIMEOUT_S", "inf"),
        ("PBX55_IDLE_TIMEOUT_S", "nan"),
        ("PBX55_MAX_CONNECTIONS", "many"),
    ],
)
def test_limits_must_be_positive_numbers(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} must be a positive"):
        Settings.from_env({name: value})


def test_https_and_proxy_settings_default_to_off_and_round_trip(env: dict[str, str]) -> None:
    settings = Settings.from_env(env)
    assert (settings.tls_cert_file, settings.tls_key_file, settings.trusted_proxies) == (
        None,
        None,
        (),
    )
    configured = Settings.from_env(
        env
        | {
            "PBX55_TLS_CERT_FILE": "/etc/pbx55/tls/fullchain.pem",
            "PBX55_TLS_KEY_FILE": "/etc/pbx55/tls/privkey.pem",
            "PBX55_TRUSTED_PROXIES": " 127.0.0.1, 10.1.2.3/8 ,::1 ",
        }
    )
    assert configured.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
    assert Settings.from_env(configured.as_environment()) == configured


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"PBX55_TLS_CERT_FILE": "cert.pem"}, "PBX55_TLS_CERT_FILE is set but PBX55_TLS_KEY_FILE"),
        ({"PBX55_TLS_KEY_FILE": "key.pem"}, "PBX55_TLS_KEY_FILE is set but PBX55_TLS_CERT_FILE"),
        (
            {"PBX55_TRUSTED_PROXIES": "127.0.0.1,caddy"},
            r"PBX55_TRUSTED_PROXIES: entry 2 \('caddy'\)",
        ),
        ({"PBX55_TRUSTED_PROXIES": "*"}, "PBX55_TRUSTED_PROXIES: entry 1"),
    ],
)
def test_https_and_proxy_mistakes_name_the_variable(
    variables: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(variables)
