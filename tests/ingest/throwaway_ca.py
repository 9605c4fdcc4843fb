"""A throw-away certificate authority and a server certificate for 127.0.0.1, made with the
openssl command (no Python dependency for it), for tests of `pbx55 serve` over HTTPS.

Imported as `tests.ingest.throwaway_ca`.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

LEAF_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


@dataclass(frozen=True)
class ThrowawayCa:
    ca_cert: Path
    server_cert: Path  # for 127.0.0.1 and localhost, signed by the CA
    server_key: Path
    other_key: Path  # a valid key that belongs to no certificate here

    def client_context(self) -> ssl.SSLContext:
        """What a client trusting this CA (and nothing else) uses."""
        return ssl.create_default_context(cafile=self.ca_cert)

    def server_env(self) -> dict[str, str]:
        return {
            "PBX55_TLS_CERT_FILE": str(self.server_cert),
            "PBX55_TLS_KEY_FILE": str(self.server_key),
        }


def make_throwaway_ca(directory: Path) -> ThrowawayCa:
    """A CA and a server certificate in `directory`; skips the test where openssl is missing."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    directory.mkdir(parents=True, exist_ok=True)

    def run(*args: str | Path) -> None:
        subprocess.run([openssl, *map(str, args)], check=True, capture_output=True, timeout=60)

    def new_key(path: Path) -> Path:
        run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
        return path

    ca_key = new_key(directory / "ca.key")
    ca_cert = directory / "ca.pem"
    run("req", "-x509", "-new", "-key", ca_key, "-out", ca_cert, "-days", "2", "-subj", "/CN=CA")
    server_key = new_key(directory / "server.key")
    request = directory / "server.csr"
    run("req", "-new", "-key", server_key, "-out", request, "-subj", "/CN=127.0.0.1")
    extensions = directory / "server.ext"
    extensions.write_text(LEAF_EXTENSIONS)
    server_cert = directory / "server.pem"
    run(
        "x509", "-req", "-in", request, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
        "-out", server_cert, "-days", "2", "-extfile", extensions,
    )  # fmt: skip
    return ThrowawayCa(
        ca_cert=ca_cert,
        server_cert=server_cert,
        server_key=server_key,
        other_key=new_key(directory / "other.key"),
    )
