"""Fixtures for tests that talk to the local Box server over HTTP.

A test module loads them with ``pytest_plugins = ("tests.box_fixtures",)``. One server runs
for the whole session with ``validate=True`` (loading the OpenAPI document takes a second);
each test gets it reset, and fails if the server recorded any request or response that
does not match ``box-openapi.json``. The Airflow connection ``box_default`` points at it
through ``AIRFLOW_CONN_BOX_DEFAULT``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from local_stack.box_server import BoxServerHandle, default_spec_path, start_box_server

#: Credentials of the local server only; nothing real.
CLIENT_ID = "handoff-local-client"
CLIENT_SECRET = "local-box-secret-not-real"
ENTERPRISE_ID = "818181"
JWT_KEY_ID = "local-test-key"
JWT_PASSPHRASE = "local-test-passphrase"

#: Just over Box's 20,000,000-byte minimum for upload sessions: three 8 MiB parts.
CHUNKED_FILE_SIZE = 21 * 1000 * 1000
CHUNKED_THRESHOLD = 20_000_000

#: Box's OpenAPI document: ``$BOX_OPENAPI_SPEC``, or ``shared/specs/`` beside the repository.
SPEC_PATH = default_spec_path()
SPEC_MISSING = (
    f"Box's OpenAPI document is not at {SPEC_PATH}: put it there or set BOX_OPENAPI_SPEC to its path "
    "(see README, 'The two commands')."
)


def spec_available() -> bool:
    """Whether requests and responses can be checked against the spec.

    On CI the document must be there (a missing one fails the run); elsewhere the checks
    that need it are skipped, with this reason in the summary, and the rest still run.
    """
    if SPEC_PATH.exists():
        return True
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(SPEC_MISSING, pytrace=False)
    return False


def require_spec() -> None:
    if not spec_available():
        pytest.skip(SPEC_MISSING)


@dataclass(frozen=True)
class JwtKeys:
    private_pem: str
    public_pem: str


@pytest.fixture(scope="session")
def jwt_keys() -> JwtKeys:
    """An RSA key pair like a Box app's: the private key encrypted with a passphrase."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(JWT_PASSPHRASE.encode()),
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return JwtKeys(private_pem, public_pem)


@pytest.fixture(scope="session")
def box_server_session(
    tmp_path_factory: pytest.TempPathFactory, jwt_keys: JwtKeys
) -> Iterator[BoxServerHandle]:
    server = start_box_server(
        tmp_path_factory.mktemp("box-data"),
        CLIENT_ID,
        CLIENT_SECRET,
        validate=spec_available(),
        jwt_public_keys={JWT_KEY_ID: jwt_keys.public_pem},
        spec_path=SPEC_PATH.resolve() if SPEC_PATH.exists() else None,
    )
    yield server
    server.stop()


class BoxAdmin:
    """The ``/__admin`` endpoints of a running server, over HTTP as the demo uses them."""

    def __init__(self, server: BoxServerHandle) -> None:
        self.server = server
        self.base_url = server.base_url

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, f"{self.base_url}/__admin/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def add_fault(self, method: str, path_regex: str, **spec: Any) -> dict[str, Any]:
        return self.call("POST", "faults", {"method": method, "path_regex": path_regex, **spec})

    def violations(self) -> list[dict[str, Any]]:
        return self.call("GET", "violations")

    def tree(self, verify: bool = False) -> dict[str, Any]:
        return self.call("GET", "tree?verify=true" if verify else "tree")

    def requests_made(self, method: str | None = None, path_part: str = "") -> list[dict[str, Any]]:
        return [
            r
            for r in self.call("GET", "requests")
            if (method is None or r["method"] == method) and path_part in r["path"]
        ]

    def file_at(self, path: str) -> dict[str, Any]:
        return next(f for f in self.tree(verify=True)["files"] if f["path"] == path)


@pytest.fixture
def box_server(box_server_session: BoxServerHandle) -> Iterator[BoxAdmin]:
    """The session's server, emptied; the test fails if it saw anything off-spec."""
    admin = BoxAdmin(box_server_session)
    admin.call("POST", "reset")
    yield admin
    violations = admin.violations()
    assert violations == [], (
        "The local Box server saw requests or responses off the OpenAPI spec:\n"
        + "\n".join(
            f"{v['method']} {v['path']} -> {v['status']} ({v['phase']}): {v['error']}" for v in violations
        )
    )


def box_connection(server: BoxServerHandle, **extra: Any) -> str:
    """An Airflow connection (JSON) for the local server, with retries fast enough for tests."""
    fields: dict[str, Any] = {
        "auth_type": "ccg",
        "subject_type": "enterprise",
        "subject_id": ENTERPRISE_ID,
        "base_url": server.sdk_base_url,
        "upload_url": server.sdk_upload_url,
        "oauth2_url": server.sdk_oauth2_url,
        "max_attempts": 3,
        "retry_base_interval": 0.01,
        **extra,
    }
    return json.dumps(
        {"conn_type": "generic", "login": CLIENT_ID, "password": CLIENT_SECRET, "extra": fields}
    )


@pytest.fixture
def box_conn(box_server: BoxAdmin, monkeypatch: pytest.MonkeyPatch) -> BoxAdmin:
    """Connection ``box_default`` pointing at the local server (client credentials grant)."""
    monkeypatch.setenv("AIRFLOW_CONN_BOX_DEFAULT", box_connection(box_server.server))
    return box_server


def write_test_file(path: Path, size: int, seed: int = 0, block: int = 1024 * 1024) -> str:
    """Write ``size`` pseudo-random bytes in blocks (never all in memory); return the SHA-1."""
    rng = random.Random(seed)
    digest = hashlib.sha1()
    with path.open("wb") as handle:
        remaining = size
        while remaining:
            chunk = rng.randbytes(min(block, remaining))
            handle.write(chunk)
            digest.update(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class LocalFile:
    path: Path
    size: int
    sha1: str


@pytest.fixture(scope="session")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> LocalFile:
    """A file just big enough for a chunked upload, written once per session."""
    path = tmp_path_factory.mktemp("box-big") / "master.bin"
    return LocalFile(path, CHUNKED_FILE_SIZE, write_test_file(path, CHUNKED_FILE_SIZE, seed=21))
