"""The OTMM hook against the project's local OTMM server, faults included."""

from __future__ import annotations

import hashlib
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
import requests

from campaign_handoff.otmm_hook import (
    OPERATOR_CONTAINS,
    Campaign,
    MasterAssetsFolderMissing,
    OtmmAuthError,
    OtmmConfigError,
    OtmmConflictError,
    OtmmHook,
    OtmmHTTPError,
    OtmmNotFoundError,
    OtmmProtocolError,
    OtmmSettings,
    OtmmUnavailableError,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.otmm_fixtures import OtmmStack

pytest_plugins = ("tests.otmm_fixtures",)

REPO = Path(__file__).resolve().parents[1]
SPRING = 'Café Spring "Launch" 🌸'
AUTUMN = "Autumn Teaser – Ü-Bahn"


def _ids(campaigns: list[Campaign]) -> set[str]:
    return {c.id for c in campaigns}


# --- sign-in -------------------------------------------------------------------------------


def test_session_sign_in_keeps_the_whole_cookie_jar(otmm_stack: OtmmStack) -> None:
    with OtmmHook() as hook:
        http = hook.get_conn()
        # The load balancer cookie matters as much as JSESSIONID: without it the server refuses.
        assert {"JSESSIONID", "AWSALB"} <= {c.name for c in http.cookies}
        campaigns = hook.find_campaigns("A1")

    spring, autumn = otmm_stack.sample(SPRING), otmm_stack.sample(AUTUMN)
    assert sorted(campaigns, key=lambda c: c.name) == [
        Campaign(id=autumn.id, number=autumn.number, name=AUTUMN, status="A1"),
        Campaign(id=spring.id, number=spring.number, name=SPRING, status="A1"),
    ]
    assert len(otmm_stack.requests_made("DELETE", "/sessions")) == 1


def test_oauth2_sign_in_uses_a_bearer_token(otmm_stack: OtmmStack) -> None:
    otmm_stack.connect(
        auth_type="oauth2", client_id=otmm_stack.client_id, client_secret=otmm_stack.client_secret
    )
    with OtmmHook() as hook:
        assert hook.get_conn().headers["Authorization"].startswith("Bearer ")
        assert _ids(hook.find_campaigns("A2")) == {otmm_stack.sample("Winter").id}
    signs_ins = [r["path"] for r in otmm_stack.requests_made("POST", "/sessions")]
    assert signs_ins == ["/otmmapi/v6/sessions/oauth2/token"]


@pytest.mark.parametrize("auth_type", ["session", "oauth2"])
def test_refused_sign_in_says_what_to_check_without_secrets(otmm_stack: OtmmStack, auth_type: str) -> None:
    if auth_type == "oauth2":
        otmm_stack.connect(auth_type="oauth2", client_id=otmm_stack.client_id, client_secret="wrong-secret")
    else:
        otmm_stack.connect(password="not-the-password-xyz")
    with pytest.raises(OtmmAuthError) as caught, OtmmHook() as hook:
        hook.find_campaigns("A1")
    message = str(caught.value)
    assert "otmm_default" in message and otmm_stack.user in message
    assert "not-the-password-xyz" not in message and "wrong-secret" not in message
    assert otmm_stack.password not in message


def test_session_expiry_signs_in_again_once(otmm_stack: OtmmStack) -> None:
    with OtmmHook() as hook:
        hook.find_campaigns("A1")
        otmm_stack.admin("POST", "expire-sessions")
        assets = hook.list_master_assets(otmm_stack.sample(SPRING).id)
    assert len(assets) == 4
    assert len(otmm_stack.requests_made("POST", "/otmmapi/v6/sessions")) == 2


def test_session_ttl_runs_out_and_the_hook_recovers(otmm_stack_factory: Callable[..., OtmmStack]) -> None:
    # Long enough that a loaded machine still finishes the first search inside the session.
    stack = otmm_stack_factory(session_ttl=2.0)
    with OtmmHook() as hook:
        hook.find_campaigns("A1")
        time.sleep(2.3)
        assert len(hook.find_campaigns("A1")) == 2
    statuses = [r["status"] for r in stack.requests_made("POST", "/search/text")]
    assert statuses == [200, 401, 200]


def test_a_401_after_signing_in_again_is_an_auth_error(otmm_stack: OtmmStack) -> None:
    otmm_stack.add_fault("/children", 401, times=None)
    with pytest.raises(OtmmAuthError, match="after signing in again"), OtmmHook() as hook:
        hook.list_master_assets(otmm_stack.sample(SPRING).id)
    assert len(otmm_stack.requests_made("POST", "/otmmapi/v6/sessions")) == 2


def test_close_signs_out(otmm_stack: OtmmStack) -> None:
    hook = OtmmHook()
    cookies = hook.get_conn().cookies.copy()
    session_id = hook._requested_by
    hook.close()
    hook.close()  # twice is harmless
    url = f"{otmm_stack.server.api_url}/search/text"
    reply = requests.post(url, cookies=cookies, headers={"X-Requested-By": session_id}, timeout=5)
    assert reply.status_code == 401


# --- the server's guards, seen from a raw client -------------------------------------------


def test_server_requires_x_requested_by_and_the_lb_cookie(otmm_stack: OtmmStack) -> None:
    api = otmm_stack.server.api_url
    folder = otmm_stack.sample(SPRING).id
    raw = requests.Session()
    signed_in = raw.post(
        f"{api}/sessions", data={"username": otmm_stack.user, "password": otmm_stack.password}, timeout=5
    )
    session_id = str(signed_in.json()["session_resource"]["session"]["id"])

    assert raw.get(f"{api}/folders/{folder}/children", timeout=5).status_code == 400
    wrong = raw.get(f"{api}/folders/{folder}/children", headers={"X-Requested-By": "1"}, timeout=5)
    assert wrong.status_code == 400
    right = raw.get(f"{api}/folders/{folder}/children", headers={"X-Requested-By": session_id}, timeout=5)
    assert right.status_code == 200

    only_jsessionid = {"JSESSIONID": raw.cookies["JSESSIONID"]}
    lost = requests.get(
        f"{api}/folders/{folder}/children",
        cookies=only_jsessionid,
        headers={"X-Requested-By": session_id},
        timeout=5,
    )
    assert lost.status_code == 401
    assert requests.get(f"{api}/folders/{folder}/children", timeout=5).status_code == 401


# --- search --------------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 2])
def test_search_pages_until_total_hit_count(otmm_stack: OtmmStack, page_size: int) -> None:
    extra_ids = [f"{n:040x}" for n in range(1, 6)]
    for n, campaign_id in enumerate(extra_ids):
        otmm_stack.add_campaign(campaign_id, f"Extra {n}", "A1")
    otmm_stack.connect(page_size=page_size)

    with OtmmHook() as hook:
        found = hook.find_campaigns("A1")

    expected = {otmm_stack.sample(SPRING).id, otmm_stack.sample(AUTUMN).id, *extra_ids}
    assert _ids(found) == expected and len(found) == len(expected)
    pages = -(-len(expected) // page_size)
    assert len(otmm_stack.requests_made("POST", "/search/text")) == pages


def test_contains_search_drops_near_misses(otmm_stack: OtmmStack) -> None:
    otmm_stack.add_campaign("a10" * 13 + "a", "Not yet", "A10")
    otmm_stack.connect(status_operator=OPERATOR_CONTAINS)
    with OtmmHook() as hook:
        found = hook.find_campaigns("A1")
    assert {c.status for c in found} == {"A1"} and len(found) == 2


def test_unknown_status_field_is_a_clear_400(otmm_stack: OtmmStack) -> None:
    otmm_stack.connect(status_field_id="SITE.FIELD.NOPE")
    with (
        pytest.raises(OtmmHTTPError, match=r"HTTP 400 .*search/text.*status_operator") as caught,
        OtmmHook() as hook,
    ):
        hook.find_campaigns("A1")
    assert "SITE.FIELD.NOPE" in str(caught.value)


# --- listing and downloading ---------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 3, 100])
def test_master_assets_are_listed_over_pages(otmm_stack: OtmmStack, page_size: int) -> None:
    otmm_stack.connect(page_size=page_size)
    spring = otmm_stack.sample(SPRING)
    with OtmmHook() as hook:
        assets = hook.list_master_assets(spring.id)
        empty = hook.list_master_assets(otmm_stack.sample(AUTUMN).id)

    assert [(a.name, a.size) for a in assets] == [(f.path.name, f.size) for f in spring.master_assets]
    assert {a.mime_type for a in assets} == {"image/png", "image/jpeg", "application/pdf", "video/x-msvideo"}
    assert empty == []


def test_missing_master_assets_folder_is_named_in_the_error(otmm_stack: OtmmStack) -> None:
    spring = otmm_stack.sample(SPRING)
    spring.master_assets_dir.rename(spring.dir / "Masters")
    with pytest.raises(MasterAssetsFolderMissing) as caught, OtmmHook() as hook:
        hook.list_master_assets(spring.id)
    error = caught.value
    assert error.campaign_id == spring.id
    assert error.subfolders == ["Masters", "Working Files"]
    assert "'Master Assets'" in str(error) and "master_assets_folder_name" in str(error)


def test_a_deleted_campaign_is_not_found(otmm_stack: OtmmStack) -> None:
    with pytest.raises(OtmmNotFoundError, match="HTTP 404"), OtmmHook() as hook:
        hook.list_master_assets("0" * 40)


def test_download_streams_every_file_with_its_sha1(otmm_stack: OtmmStack, tmp_path: Path) -> None:
    spring = otmm_stack.sample(SPRING)
    with OtmmHook() as hook:
        assets = hook.list_master_assets(spring.id)
        for asset, sample in zip(assets, spring.master_assets, strict=True):
            target = tmp_path / f"{asset.id}.bin"
            with target.open("wb") as dest:
                tracemalloc.start()
                result = hook.download(asset.id, dest, chunk_size=256 * 1024)
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
            assert (result.size, result.sha1) == (sample.size, sample.sha1)
            assert hashlib.sha1(target.read_bytes()).hexdigest() == sample.sha1
            # Streaming: the 21 MB video never sits in memory as a whole.
            assert peak < 8 * 1024 * 1024


def test_downloads_run_concurrently(otmm_stack: OtmmStack) -> None:
    spring = otmm_stack.sample(SPRING)
    small = [f for f in spring.master_assets if f.size < 1_000_000]
    with OtmmHook() as lister:
        ids = {a.name: a.id for a in lister.list_master_assets(spring.id)}
    results: dict[str, str] = {}

    def fetch(name: str) -> None:
        with OtmmHook() as hook:
            results[name] = hook.download(ids[name], io.BytesIO()).sha1

    threads = [threading.Thread(target=fetch, args=(f.path.name,)) for f in small * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == {f.path.name: f.sha1 for f in small}


# --- status change -------------------------------------------------------------------------


@pytest.mark.parametrize("resource", ["folders", "assets"])
def test_set_status_is_persisted_and_unlocked(otmm_stack: OtmmStack, resource: str) -> None:
    otmm_stack.connect(status_resource=resource)
    spring = otmm_stack.sample(SPRING)
    with OtmmHook() as hook:
        hook.set_status(spring.id, "A2")
        assert hook.get_campaign(spring.id).status == "A2"
        assert spring.id not in _ids(hook.find_campaigns("A1"))

    assert otmm_stack.campaign_json(spring.id) == {
        "id": spring.id,
        "number": spring.number,
        "name": SPRING,
        "status": "A2",
    }
    listed = {c["id"]: c for c in otmm_stack.admin("GET", "campaigns").json()["campaigns"]}
    assert listed[spring.id]["status"] == "A2" and not listed[spring.id]["locked"]
    calls = [
        (r["method"], r["path"].rsplit("/", 1)[-1]) for r in otmm_stack.requests_made(path_part=spring.id)
    ]
    assert calls[:3] == [("PUT", "state"), ("PATCH", spring.id), ("PUT", "state")]


def test_set_status_refuses_a_folder_someone_else_locked(otmm_stack: OtmmStack) -> None:
    spring = otmm_stack.sample(SPRING)
    otmm_stack.admin("POST", "lock", {"id": spring.id, "owner": "maria.rossi"})
    with pytest.raises(OtmmConflictError, match="lock"), OtmmHook() as hook:
        hook.set_status(spring.id, "A2")
    assert otmm_stack.campaign_json(spring.id)["status"] == "A1"
    # The other user's lock is left alone.
    assert not otmm_stack.requests_made("PATCH")
    assert [
        c["locked"] for c in otmm_stack.admin("GET", "campaigns").json()["campaigns"] if c["id"] == spring.id
    ] == [True]


def test_set_status_survives_a_session_expiring_while_locked(otmm_stack: OtmmStack) -> None:
    spring = otmm_stack.sample(SPRING)
    # The session times out between the lock and the edit: the new session must lock again.
    otmm_stack.add_fault(r"/folders/[0-9a-f]+$", 0, times=1, method="PATCH", expire_sessions=True)
    with OtmmHook() as hook:
        hook.set_status(spring.id, "A2")
    assert otmm_stack.campaign_json(spring.id)["status"] == "A2"
    calls = [(r["method"], r["path"].rsplit("/", 1)[-1], r["status"]) for r in otmm_stack.requests_made()]
    assert calls[1:] == [
        ("PUT", "state", 200),
        ("PATCH", spring.id, 401),
        ("POST", "sessions", 200),
        ("PATCH", spring.id, 409),
        ("PUT", "state", 200),  # the unlock in finally
        ("PUT", "state", 200),  # the lock under the new session
        ("PATCH", spring.id, 200),
        ("PUT", "state", 200),
        ("DELETE", "sessions", 204),
    ]
    assert not any(c["locked"] for c in otmm_stack.admin("GET", "campaigns").json()["campaigns"])


def test_the_unlock_runs_when_the_edit_fails(otmm_stack: OtmmStack) -> None:
    spring = otmm_stack.sample(SPRING)
    otmm_stack.add_fault(r"/folders/[0-9a-f]+$", 500, times=1, method="PATCH")
    with pytest.raises(OtmmHTTPError, match="HTTP 500"), OtmmHook() as hook:
        hook.set_status(spring.id, "A2")
    assert otmm_stack.requests_made("PUT")[-1]["status"] == 200
    assert not any(c["locked"] for c in otmm_stack.admin("GET", "campaigns").json()["campaigns"])


# --- transient faults and garbage ----------------------------------------------------------


def test_two_503s_then_success(otmm_stack: OtmmStack) -> None:
    otmm_stack.add_fault("/search/text", 503, times=2)
    with OtmmHook() as hook:
        assert len(hook.find_campaigns("A1")) == 2
    assert [r["status"] for r in otmm_stack.requests_made("POST", "/search/text")] == [503, 503, 200]


def test_persistent_503_is_a_clear_unavailable_error(otmm_stack: OtmmStack) -> None:
    otmm_stack.add_fault("/search/text", 503, times=None)
    with pytest.raises(OtmmUnavailableError) as caught, OtmmHook() as hook:
        hook.find_campaigns("A1")
    assert caught.value.status_code == 503
    assert "HTTP 503 from POST /otmmapi/v6/search/text" in str(caught.value)
    assert "retry later" in str(caught.value)
    assert len(otmm_stack.requests_made("POST", "/search/text")) == 4  # 1 try + 3 retries


def test_unreachable_server_is_an_unavailable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port any more: connections are refused.
    monkeypatch.setenv(
        "AIRFLOW_CONN_OTMM_DEFAULT",
        f'{{"conn_type": "generic", "host": "127.0.0.1", "port": {port}, "schema": "http", '
        f'"login": "u", "password": "p4ssw0rd", "extra": {{"retries": 1, "backoff_factor": 0.01}}}}',
    )
    with pytest.raises(OtmmUnavailableError, match="Could not reach OTMM") as caught, OtmmHook() as hook:
        hook.find_campaigns("A1")
    assert "p4ssw0rd" not in str(caught.value)


def test_garbage_body_is_a_protocol_error(otmm_stack: OtmmStack) -> None:
    otmm_stack.add_fault("/search/text", 200, times=1, body="<html><body>Maintenance tonight</body></html>")
    with pytest.raises(OtmmProtocolError) as caught, OtmmHook() as hook:
        hook.find_campaigns("A1")
    message = str(caught.value)
    assert "/otmmapi/v6/search/text" in message and "Maintenance tonight" in message
    assert "not a JSON object" in message


def test_json_of_the_wrong_shape_is_a_protocol_error(otmm_stack: OtmmStack) -> None:
    otmm_stack.add_fault(
        "/children", 200, times=1, body='{"unexpected": true}', content_type="application/json"
    )
    with pytest.raises(OtmmProtocolError, match="lacks folder_children"), OtmmHook() as hook:
        hook.list_master_assets(otmm_stack.sample(SPRING).id)


def test_no_secret_reaches_the_logs(
    otmm_stack: OtmmStack, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    otmm_stack.add_fault("/search/text", 503, times=1)
    with caplog.at_level(logging.DEBUG), OtmmHook() as hook:
        hook.find_campaigns("A1")
        otmm_stack.admin("POST", "expire-sessions")
        hook.list_master_assets(otmm_stack.sample(SPRING).id)
        secrets = {c.value for c in hook.get_conn().cookies} | set(hook._secrets)
    # Airflow's task logger writes through structlog to the console, the rest through logging.
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert "Found 2 campaign(s) in status A1" in logged
    assert otmm_stack.password in secrets and len(secrets) > 3
    assert not [s for s in secrets if s in logged]


# --- configuration -------------------------------------------------------------------------


def _conn(**fields: Any) -> SimpleNamespace:
    base = {
        "conn_id": "otmm_test",
        "host": "otmm.example.com",
        "port": None,
        "schema": None,
        "login": "u",
        "password": "p",
        "extra_dejson": {},
    }
    return SimpleNamespace(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "base_url"),
    [
        pytest.param({}, "https://otmm.example.com/otmmapi/v6", id="bare-host-defaults-to-https"),
        pytest.param(
            {"schema": "http", "port": 8080}, "http://otmm.example.com:8080/otmmapi/v6", id="schema-port"
        ),
        pytest.param(
            {"host": "https://otmm.example.com/dam/"}, "https://otmm.example.com/dam/otmmapi/v6", id="prefix"
        ),
        pytest.param(
            {"host": "http://h:81/otmmapi/v6", "port": 99}, "http://h:81/otmmapi/v6", id="full-url-wins"
        ),
        pytest.param(
            {"host": "https://me:pw@otmm.example.com"},
            "https://otmm.example.com/otmmapi/v6",
            id="no-userinfo",
        ),
    ],
)
def test_base_url_is_built_from_the_connection(fields: dict[str, Any], base_url: str) -> None:
    assert OtmmSettings.from_connection(_conn(**fields)).base_url == base_url


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        pytest.param({"host": None}, "no host", id="no-host"),
        pytest.param({"password": None}, "login and password", id="no-password"),
        pytest.param({"schema": "ftp"}, "schema must be", id="bad-schema"),
        pytest.param({"extra_dejson": {"auth_type": "kerberos"}}, "auth_type", id="bad-auth-type"),
        pytest.param(
            {"extra_dejson": {"auth_type": "oauth2", "client_id": "x"}},
            "client_secret",
            id="oauth2-no-secret",
        ),
        pytest.param({"extra_dejson": {"page_size": 0}}, "page_size", id="page-size-zero"),
        pytest.param({"extra_dejson": {"timeout": "soon"}}, "timeout", id="timeout-not-a-number"),
        pytest.param(
            {"extra_dejson": {"status_resource": "campaigns"}}, "status_resource", id="bad-resource"
        ),
        pytest.param({"extra_dejson": {"verify": 3}}, "verify", id="bad-verify"),
    ],
)
def test_bad_connections_are_refused_with_the_reason(fields: dict[str, Any], complaint: str) -> None:
    with pytest.raises(OtmmConfigError, match=complaint) as caught:
        OtmmSettings.from_connection(_conn(**fields))
    assert "otmm_test" in str(caught.value)


def test_defaults_and_verify_forms() -> None:
    settings = OtmmSettings.from_connection(_conn(extra_dejson={"verify": "false"}))
    assert settings.verify is False
    assert (settings.status_field_id, settings.number_field_id) == (
        "CAMPAIGN.FIELD.STATUS",
        "CAMPAIGN.FIELD.NUMBER",
    )
    assert settings.status_operator == "ARTESIA.OPERATOR.CHAR.IS"
    assert (settings.master_assets_folder_name, settings.status_resource) == ("Master Assets", "folders")
    assert (settings.page_size, settings.auth_type) == (100, "session")
    assert OtmmSettings.from_connection(_conn(extra_dejson={"verify": "/etc/ca.pem"})).verify == "/etc/ca.pem"
    assert "hunter22" not in repr(OtmmSettings.from_connection(_conn(password="hunter22")))


def test_constructing_the_hook_reads_no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_OTMM_DEFAULT", raising=False)
    hook = OtmmHook()  # as a DAG file would at parse time
    assert hook.otmm_conn_id == "otmm_default"
    hook.close()


def test_an_asset_list_of_the_wrong_shape_is_a_protocol_error(otmm_stack: OtmmStack) -> None:
    body = '{"folder_children": {"asset_list": [{"name": "no id"}]}}'
    otmm_stack.add_fault("/children", 200, times=1, body=body, content_type="application/json")
    with pytest.raises(OtmmProtocolError, match="asset_list"), OtmmHook() as hook:
        hook.list_master_assets(otmm_stack.sample(SPRING).id)


# --- the command line ------------------------------------------------------------------------


def test_cli_writes_its_port_and_stops_on_sigterm(otmm_stack: OtmmStack, tmp_path: Path) -> None:
    port_file = tmp_path / "otmm.port"
    env = {**os.environ, "OTMM_SERVER_PASSWORD": otmm_stack.password}
    command = [
        sys.executable,
        "-m",
        "local_stack.otmm_server",
        "--campaigns-dir",
        str(otmm_stack.campaigns_dir),
    ]
    command += ["--username", otmm_stack.user, "--port", "0", "--port-file", str(port_file)]
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the server wrote no port file"
            time.sleep(0.05)
        port = int(port_file.read_text())
        reply = requests.post(
            f"http://127.0.0.1:{port}/otmmapi/v6/sessions",
            data={"username": otmm_stack.user, "password": otmm_stack.password},
            timeout=5,
        )
        assert reply.status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
