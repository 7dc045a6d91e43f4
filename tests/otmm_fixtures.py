"""Fixtures for tests that need a running local OTMM server with the sample campaigns.

A test module loads them with ``pytest_plugins = ("tests.otmm_fixtures",)`` (and imports
from here only under ``TYPE_CHECKING``, so that pytest can still rewrite asserts). The samples
are written once per test session and copied for each test, so a test may change files and
statuses freely. The Airflow connection ``otmm_default`` is set through the environment.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

from local_stack.otmm_server import OtmmServerHandle, start_otmm_server
from local_stack.samples import SampleCampaign, write_sample_campaigns

#: Credentials of the local server only; nothing real.
OTMM_USER = "handoff.bot"
OTMM_PASSWORD = "pw-for-local-otmm-only"
OTMM_CLIENT_ID = "campaign-handoff-tests"
OTMM_CLIENT_SECRET = "local-test-client-secret"

#: Retries fast enough for a test, still exercising the backoff code.
FAST_RETRIES = {"retries": 3, "backoff_factor": 0.01, "timeout": 10}


@dataclass
class OtmmStack:
    """A running local OTMM server over a private copy of the sample campaigns."""

    server: OtmmServerHandle
    campaigns_dir: Path
    samples: list[SampleCampaign]
    monkeypatch: pytest.MonkeyPatch

    user: ClassVar[str] = OTMM_USER
    password: ClassVar[str] = OTMM_PASSWORD
    client_id: ClassVar[str] = OTMM_CLIENT_ID
    client_secret: ClassVar[str] = OTMM_CLIENT_SECRET

    def sample(self, name_start: str) -> SampleCampaign:
        return next(s for s in self.samples if s.name.startswith(name_start))

    def admin(self, method: str, path: str, body: Any = None) -> requests.Response:
        response = requests.request(method, f"{self.server.base_url}/__admin/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response

    def add_fault(self, path_regex: str, status: int, times: int | None = 1, **spec: Any) -> None:
        self.admin("POST", "faults", {"path_regex": path_regex, "status": status, "times": times, **spec})

    def requests_made(self, method: str | None = None, path_part: str = "") -> list[dict[str, Any]]:
        made = self.admin("GET", "requests").json()["requests"]
        return [r for r in made if (method is None or r["method"] == method) and path_part in r["path"]]

    def campaign_json(self, campaign_id: str) -> dict[str, Any]:
        return json.loads((self.campaigns_dir / campaign_id / "campaign.json").read_text("utf-8"))

    def add_campaign(
        self, campaign_id: str, name: str, status: str, files: dict[str, bytes] | None = None
    ) -> Path:
        """Create one more campaign folder (with a Master Assets folder holding ``files``)."""
        directory = self.campaigns_dir / campaign_id
        (directory / "Master Assets").mkdir(parents=True)
        meta = {"id": campaign_id, "number": f"T-{campaign_id[-4:]}", "name": name, "status": status}
        (directory / "campaign.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
        for file_name, content in (files or {}).items():
            (directory / "Master Assets" / file_name).write_bytes(content)
        return directory

    def connect(self, password: str = OTMM_PASSWORD, **extra: Any) -> None:
        """Point ``otmm_default`` at this server, with ``extra`` on top of the fast retries."""
        set_otmm_connection(self.monkeypatch, self.server, password=password, **{**FAST_RETRIES, **extra})


def otmm_connection_json(server: OtmmServerHandle, password: str = OTMM_PASSWORD, **extra: Any) -> str:
    """Return the JSON form of an Airflow connection to ``server``."""
    return json.dumps(
        {
            "conn_type": "generic",
            "host": server.host,
            "port": server.port,
            "schema": "http",
            "login": OTMM_USER,
            "password": password,
            "extra": extra,
        }
    )


def set_otmm_connection(
    monkeypatch: pytest.MonkeyPatch,
    server: OtmmServerHandle,
    conn_id: str = "otmm_default",
    password: str = OTMM_PASSWORD,
    **extra: Any,
) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", otmm_connection_json(server, password, **extra))


@pytest.fixture(scope="session")
def otmm_samples_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SampleCampaign]]:
    """Write the sample campaigns once per test session."""
    root = tmp_path_factory.mktemp("otmm-samples")
    return root, write_sample_campaigns(root)


def _relocate(sample: SampleCampaign, old: Path, new: Path) -> SampleCampaign:
    files = tuple(dataclasses.replace(f, path=new / f.path.relative_to(old)) for f in sample.master_assets)
    return dataclasses.replace(sample, dir=new / sample.dir.relative_to(old), master_assets=files)


def start_otmm_stack(
    root: Path,
    template: tuple[Path, list[SampleCampaign]],
    monkeypatch: pytest.MonkeyPatch,
    **server_options: Any,
) -> OtmmStack:
    """Copy the samples under ``root`` and serve them; the caller stops ``stack.server``."""
    source, samples = template
    campaigns_dir = root / "campaigns"
    shutil.copytree(source, campaigns_dir)
    options = {"client_id": OTMM_CLIENT_ID, "client_secret": OTMM_CLIENT_SECRET, **server_options}
    server = start_otmm_server(campaigns_dir, OTMM_USER, OTMM_PASSWORD, **options)
    stack = OtmmStack(
        server, campaigns_dir, [_relocate(s, source, campaigns_dir) for s in samples], monkeypatch
    )
    stack.connect()
    return stack


@pytest.fixture
def otmm_stack(
    tmp_path: Path, otmm_samples_template: tuple[Path, list[SampleCampaign]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[OtmmStack]:
    """A local OTMM server on a fresh copy of the samples, with ``otmm_default`` pointing at it."""
    stack = start_otmm_stack(tmp_path, otmm_samples_template, monkeypatch)
    try:
        yield stack
    finally:
        stack.server.stop()


@pytest.fixture
def otmm_stack_factory(
    tmp_path: Path, otmm_samples_template: tuple[Path, list[SampleCampaign]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., OtmmStack]]:
    """Start stacks with other server options (e.g. ``session_ttl=0.3``); all stop at teardown."""
    started: list[OtmmStack] = []

    def start(**server_options: Any) -> OtmmStack:
        root = tmp_path / f"stack-{len(started)}"
        root.mkdir()
        started.append(start_otmm_stack(root, otmm_samples_template, monkeypatch, **server_options))
        return started[-1]

    try:
        yield start
    finally:
        for stack in started:
            stack.server.stop()
