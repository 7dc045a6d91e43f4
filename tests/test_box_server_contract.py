"""The local Box server answers as ``box-openapi.json`` says, errors included.

Requests go over HTTP with ``requests``; the server validates each request and response
with openapi-core and the ``box_server`` fixture fails any test that produced a violation. A few
tests at the end show that the validator does reject what the document forbids, so that
"no violations" means something.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from local_stack.box_server import MIN_CHUNKED_UPLOAD_SIZE, load_validator
from tests.box_fixtures import (
    CLIENT_ID,
    CLIENT_SECRET,
    ENTERPRISE_ID,
    SPEC_PATH,
    BoxAdmin,
    LocalFile,
    require_spec,
)


@pytest.fixture(autouse=True)
def _contract_needs_the_spec() -> None:
    """Every test here checks the server against Box's OpenAPI document."""
    require_spec()


pytest_plugins = ("tests.box_fixtures",)

REPO = Path(__file__).resolve().parents[1]


class Api:
    """A bare Box API client with a token of the local server."""

    def __init__(self, box_server: BoxAdmin) -> None:
        self.base = box_server.base_url
        self.token = token_request(box_server.base_url).json()["access_token"]

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.base + path, headers=self.headers(), timeout=30, **kwargs)

    def post(self, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        return requests.post(self.base + path, headers=self.headers(**(headers or {})), timeout=30, **kwargs)

    def upload(self, name: str, data: bytes, parent: str = "0", **headers: str) -> requests.Response:
        attributes = json.dumps({"name": name, "parent": {"id": parent}})
        files = [("attributes", (None, attributes)), ("file", (name, data))]
        return self.post("/api/2.0/files/content", headers=headers, files=files)

    def folder(self, name: str, parent: str = "0") -> requests.Response:
        return self.post("/2.0/folders", json={"name": name, "parent": {"id": parent}})


def token_request(base_url: str, **changes: str | None) -> requests.Response:
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "box_subject_type": "enterprise",
        "box_subject_id": ENTERPRISE_ID,
        **changes,
    }
    return requests.post(
        f"{base_url}/oauth2/token", data={k: v for k, v in form.items() if v is not None}, timeout=10
    )


@pytest.fixture
def api(box_server: BoxAdmin) -> Api:
    return Api(box_server)


def assert_client_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == status, body
    assert body["type"] == "error"
    assert (body["status"], body["code"]) == (status, code)
    assert body["message"] and body["request_id"]
    assert isinstance(body["context_info"], dict)
    return body


def sha_digest(data: bytes) -> str:
    return "sha=" + base64.b64encode(hashlib.sha1(data).digest()).decode()


# --- OAuth -------------------------------------------------------------------------------


def test_client_credentials_grant(box_server: BoxAdmin) -> None:
    response = token_request(box_server.base_url)

    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "bearer" and body["expires_in"] > 0 and body["access_token"]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        pytest.param({"client_secret": "nope"}, "invalid_client", id="wrong-secret"),
        pytest.param({"client_id": "someone-else"}, "invalid_client", id="wrong-client"),
        pytest.param({"box_subject_id": None}, "invalid_grant", id="no-subject"),
        pytest.param({"box_subject_type": None}, "invalid_grant", id="no-subject-type"),
        pytest.param({"grant_type": "authorization_code"}, "unsupported_grant_type", id="other-grant"),
    ],
)
def test_token_errors(box_server: BoxAdmin, changes: dict[str, str | None], error: str) -> None:
    response = token_request(box_server.base_url, **changes)

    assert response.status_code == 400
    assert response.json()["error"] == error
    assert CLIENT_SECRET not in response.text


@pytest.mark.parametrize(
    "authorization",
    [pytest.param(None, id="missing"), pytest.param("Bearer not-a-token", id="invalid")],
)
def test_401_without_a_valid_token(box_server: BoxAdmin, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = requests.get(f"{box_server.base_url}/2.0/folders/0", headers=headers, timeout=10)

    assert_client_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


# --- folders -----------------------------------------------------------------------------


def test_root_folder(api: Api) -> None:
    response = api.get("/2.0/folders/0")

    body = response.json()
    assert response.status_code == 200
    assert (body["type"], body["id"], body["name"]) == ("folder", "0", "All Files")
    assert body["path_collection"] == {"total_count": 0, "entries": []}


def test_fields_select_the_mini_representation_plus_those_asked(api: Api) -> None:
    body = api.get("/2.0/folders/0", params={"fields": "size,created_at"}).json()

    assert set(body) == {"type", "id", "sequence_id", "etag", "name", "size", "created_at"}


def test_create_folder_and_its_conflict(api: Api) -> None:
    created = api.folder("Campaign 7")
    folder = created.json()
    assert created.status_code == 201
    assert folder["parent"]["id"] == "0" and folder["path_collection"]["entries"][0]["id"] == "0"

    clash = api.folder("CAMPAIGN 7")

    body = assert_client_error(clash, 409, "item_name_in_use")
    assert body["context_info"]["conflicts"] == [
        {"type": "folder", "id": folder["id"], "sequence_id": "0", "etag": "0", "name": "Campaign 7"}
    ]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        pytest.param("a/b", "item_name_invalid", id="slash"),
        pytest.param("a\\b", "item_name_invalid", id="backslash"),
        pytest.param("trailing ", "item_name_invalid", id="trailing-space"),
        pytest.param(".", "item_name_invalid", id="dot"),
        pytest.param("..", "item_name_invalid", id="dot-dot"),
        pytest.param("tab\there", "item_name_invalid", id="control"),
    ],
)
def test_folder_names_box_refuses(api: Api, name: str, code: str) -> None:
    assert_client_error(api.folder(name), 400, code)


@pytest.mark.parametrize(
    ("name", "code", "schema_error"),
    [
        pytest.param("x" * 256, "item_name_too_long", "is too long", id="too-long"),
        pytest.param("", "bad_request", "should be non-empty", id="empty"),
    ],
)
def test_folder_names_the_spec_forbids(
    api: Api, box_server: BoxAdmin, name: str, code: str, schema_error: str
) -> None:
    assert_client_error(api.folder(name), 400, code)

    # The document itself bounds the name, so the request is off-spec: recorded, then cleared.
    [violation] = box_server.call("GET", "violations")
    assert (violation["phase"], violation["status"]) == ("request", 400)
    assert schema_error in violation["error"]
    box_server.call("DELETE", "violations")


def test_racing_folder_creation_has_one_winner(api: Api) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: api.folder("Raced"), range(8)))

    created = [r.json() for r in responses if r.status_code == 201]
    conflicts = [assert_client_error(r, 409, "item_name_in_use") for r in responses if r.status_code != 201]
    assert len(created) == 1 and len(conflicts) == 7
    assert {c["context_info"]["conflicts"][0]["id"] for c in conflicts} == {created[0]["id"]}


def test_folder_errors_404(api: Api) -> None:
    assert_client_error(api.folder("Orphan", parent="999"), 404, "not_found")
    assert_client_error(api.get("/2.0/folders/999"), 404, "not_found")
    assert_client_error(api.get("/2.0/folders/999/items"), 404, "not_found")


def test_folder_items_paging(api: Api) -> None:
    parent = api.folder("Paged").json()["id"]
    for name in ["c.txt", "a.txt", "b.txt"]:
        assert api.upload(name, name.encode(), parent=parent).status_code == 201
    api.folder("z-sub", parent=parent)

    first = api.get(f"/2.0/folders/{parent}/items", params={"limit": 2, "offset": 0}).json()
    second = api.get(f"/2.0/folders/{parent}/items", params={"limit": 2, "offset": 2}).json()

    assert first["total_count"] == 4
    assert [e["name"] for e in first["entries"] + second["entries"]] == ["z-sub", "a.txt", "b.txt", "c.txt"]
    names, marker = [], None
    while True:
        params: dict[str, Any] = {"usemarker": "true", "limit": 3, "fields": "name,size,sha1"}
        if marker:
            params["marker"] = marker
        page = api.get(f"/2.0/folders/{parent}/items", params=params).json()
        names += [(e["name"], e.get("size")) for e in page["entries"]]
        marker = page["next_marker"]
        if not marker:
            break
    assert names == [("z-sub", 0), ("a.txt", 5), ("b.txt", 5), ("c.txt", 5)]


# --- files and direct uploads ------------------------------------------------------------


def test_direct_upload_and_file_info(api: Api) -> None:
    data = b"campaign master" * 1000

    created = api.upload("master.tif", data, **{"content-md5": hashlib.sha1(data).hexdigest()})

    body = created.json()
    assert created.status_code == 201 and body["total_count"] == 1
    entry = body["entries"][0]
    assert (entry["name"], entry["size"], entry["sha1"]) == (
        "master.tif",
        len(data),
        hashlib.sha1(data).hexdigest(),
    )
    info = api.get(f"/2.0/files/{entry['id']}", params={"fields": "sha1,size"}).json()
    assert (info["sha1"], info["size"]) == (entry["sha1"], len(data))
    assert_client_error(api.get("/2.0/files/31337"), 404, "not_found")


def test_upload_with_a_wrong_content_md5_is_refused(api: Api, box_server: BoxAdmin) -> None:
    response = api.upload("bad.bin", b"these bytes", **{"content-md5": "0" * 40})

    assert_client_error(response, 400, "bad_digest")
    assert box_server.tree()["files"] == []


def test_upload_name_clash_names_the_existing_file(api: Api) -> None:
    first = api.upload("logo.png", b"first").json()["entries"][0]

    clash = api.upload("LOGO.png", b"second")

    body = assert_client_error(clash, 409, "item_name_in_use")
    conflict = body["context_info"]["conflicts"][0]
    assert (conflict["type"], conflict["id"], conflict["sha1"]) == ("file", first["id"], first["sha1"])


def test_attributes_must_come_before_the_file(api: Api) -> None:
    attributes = json.dumps({"name": "late.bin", "parent": {"id": "0"}})

    response = api.post(
        "/api/2.0/files/content", files=[("file", ("late.bin", b"data")), ("attributes", (None, attributes))]
    )

    assert_client_error(response, 400, "metadata_after_file_contents")


def test_upload_into_a_missing_folder(api: Api) -> None:
    assert_client_error(api.upload("x.bin", b"x", parent="404404"), 404, "not_found")


def test_new_version(api: Api) -> None:
    file_id = api.upload("brief.pdf", b"v1").json()["entries"][0]["id"]
    files = [("attributes", (None, json.dumps({"name": "brief.pdf"}))), ("file", ("brief.pdf", b"v2 bytes"))]

    response = api.post(f"/api/2.0/files/{file_id}/content", files=files)

    entry = response.json()["entries"][0]
    assert response.status_code == 200
    assert (entry["id"], entry["sha1"], entry["version_number"]) == (
        file_id,
        hashlib.sha1(b"v2 bytes").hexdigest(),
        "2",
    )
    assert_client_error(api.post("/api/2.0/files/777/content", files=files), 404, "not_found")


# --- chunked uploads ---------------------------------------------------------------------


def test_upload_session_below_the_minimum_is_refused(api: Api) -> None:
    response = api.post(
        "/api/2.0/files/upload_sessions",
        json={"folder_id": "0", "file_size": MIN_CHUNKED_UPLOAD_SIZE - 1, "file_name": "small.bin"},
    )

    assert_client_error(response, 400, "file_size_too_small")


def _parts(local: LocalFile, part_size: int) -> Iterator[tuple[int, bytes]]:
    with local.path.open("rb") as handle:
        offset = 0
        while chunk := handle.read(part_size):
            yield offset, chunk
            offset += len(chunk)


def put_part(
    api: Api, url: str, offset: int, chunk: bytes, total: int, digest: str | None = None
) -> requests.Response:
    headers = api.headers(
        **{
            "digest": digest or sha_digest(chunk),
            "content-range": f"bytes {offset}-{offset + len(chunk) - 1}/{total}",
            "content-type": "application/octet-stream",
        }
    )
    return requests.put(url, headers=headers, data=chunk, timeout=60)


def test_chunked_upload_session_end_to_end(api: Api, box_server: BoxAdmin, big_file: LocalFile) -> None:
    created = api.post(
        "/api/2.0/files/upload_sessions",
        json={"folder_id": "0", "file_size": big_file.size, "file_name": "master.mov"},
    )
    session = created.json()
    assert created.status_code == 201
    endpoints = session["session_endpoints"]
    assert all(
        url.startswith(f"{box_server.base_url}/api/2.0/files/upload_sessions/") for url in endpoints.values()
    )
    assert session["total_parts"] == -(-big_file.size // session["part_size"]) == 3

    parts = []
    for offset, chunk in _parts(big_file, session["part_size"]):
        if offset == 0:
            wrong = put_part(
                api, endpoints["upload_part"], offset, chunk, big_file.size, digest=sha_digest(b"x")
            )
            assert_client_error(wrong, 400, "digest_mismatch")
        response = put_part(api, endpoints["upload_part"], offset, chunk, big_file.size)
        assert response.status_code == 200
        parts.append(response.json()["part"])
    again = put_part(
        api, endpoints["upload_part"], 0, next(_parts(big_file, session["part_size"]))[1], big_file.size
    )
    assert again.json()["part"] == parts[0], "re-sending the same part is harmless"
    misaligned = put_part(api, endpoints["upload_part"], 5, b"abc", big_file.size)
    assert_client_error(misaligned, 416, "bad_request")

    status = requests.get(endpoints["status"], headers=api.headers(), timeout=10).json()
    assert status["num_parts_processed"] == 3
    listed = requests.get(endpoints["list_parts"], headers=api.headers(), timeout=10).json()
    assert listed["entries"] == parts and listed["total_count"] == 3

    whole = "sha=" + base64.b64encode(bytes.fromhex(big_file.sha1)).decode()
    wrong_digest = api.post(
        endpoints["commit"].removeprefix(box_server.base_url),
        headers={"digest": sha_digest(b"")},
        json={"parts": parts},
    )
    assert_client_error(wrong_digest, 400, "digest_mismatch")
    missing = api.post(
        endpoints["commit"].removeprefix(box_server.base_url),
        headers={"digest": whole},
        json={"parts": parts[:2]},
    )
    assert_client_error(missing, 400, "bad_request")

    committed = api.post(
        endpoints["commit"].removeprefix(box_server.base_url),
        headers={"digest": whole},
        json={"parts": parts},
    )

    entry = committed.json()["entries"][0]
    assert committed.status_code == 201
    assert (entry["size"], entry["sha1"]) == (big_file.size, big_file.sha1)
    assert box_server.file_at("/master.mov")["disk_sha1"] == big_file.sha1


def test_upload_session_for_an_existing_file_and_abort(
    api: Api, box_server: BoxAdmin, big_file: LocalFile
) -> None:
    file_id = api.upload("master.mov", b"draft").json()["entries"][0]["id"]
    clash = api.post(
        "/api/2.0/files/upload_sessions",
        json={"folder_id": "0", "file_size": big_file.size, "file_name": "master.mov"},
    )
    assert_client_error(clash, 409, "item_name_in_use")

    created = api.post(f"/api/2.0/files/{file_id}/upload_sessions", json={"file_size": big_file.size})
    endpoints = created.json()["session_endpoints"]
    assert created.status_code == 201

    aborted = requests.delete(endpoints["abort"], headers=api.headers(), timeout=10)

    assert aborted.status_code == 204
    gone = requests.get(endpoints["status"], headers=api.headers(), timeout=10)
    assert_client_error(gone, 404, "not_found")
    assert_client_error(
        api.post("/api/2.0/files/999/upload_sessions", json={"file_size": big_file.size}), 404, "not_found"
    )


# --- faults ------------------------------------------------------------------------------


def test_injected_429_carries_retry_after(api: Api, box_server: BoxAdmin) -> None:
    box_server.add_fault("GET", r"^/2\.0/folders/0$", status=429, times=1, retry_after=7)

    limited = api.get("/2.0/folders/0")

    assert_client_error(limited, 429, "too_many_requests")
    assert limited.headers["Retry-After"] == "7"
    assert api.get("/2.0/folders/0").status_code == 200, "times=1: the next request passes"


def test_injected_503_until_cleared(api: Api, box_server: BoxAdmin) -> None:
    box_server.add_fault("GET", r"^/2\.0/folders/", status=503, times=None)

    assert_client_error(api.get("/2.0/folders/0"), 503, "unavailable")
    assert_client_error(api.get("/2.0/folders/0"), 503, "unavailable")
    assert len(box_server.call("GET", "faults")) == 1
    box_server.call("DELETE", "faults")
    assert api.get("/2.0/folders/0").status_code == 200


def test_injected_202_on_commit_is_spec_shaped(api: Api, box_server: BoxAdmin) -> None:
    box_server.add_fault("POST", r"/commit$", status=202, retry_after=1)

    response = api.post(
        "/api/2.0/files/upload_sessions/ABC/commit", headers={"digest": sha_digest(b"")}, json={"parts": []}
    )

    assert (response.status_code, response.headers["Retry-After"], response.content) == (202, "1", b"")


def test_bad_fault_specs_are_refused(box_server: BoxAdmin) -> None:
    for spec in [
        {"path_regex": "x"},
        {"status": 200},
        {"status": 500, "times": 0},
        {"status": 500, "path_regex": "("},
    ]:
        response = requests.post(f"{box_server.base_url}/__admin/faults", json=spec, timeout=10)
        assert response.status_code == 400, spec


# --- admin -------------------------------------------------------------------------------


def test_tree_and_reset(api: Api, box_server: BoxAdmin) -> None:
    folder = api.folder("Spring").json()["id"]
    api.upload("a.jpg", b"aaa", parent=folder)

    tree = box_server.tree(verify=True)

    assert [f["path"] for f in tree["folders"]] == ["/", "/Spring"]
    [entry] = tree["files"]
    assert (entry["path"], entry["size"], entry["sha1"], entry["disk_sha1"]) == (
        "/Spring/a.jpg",
        3,
        hashlib.sha1(b"aaa").hexdigest(),
        hashlib.sha1(b"aaa").hexdigest(),
    )
    box_server.call("POST", "reset")
    assert box_server.tree() == {"folders": [{"id": "0", "path": "/", "name": "All Files"}], "files": []}
    assert_client_error(api.get("/2.0/folders/0"), 401, "unauthorized")


# --- the validator itself ----------------------------------------------------------------


def test_validator_rejects_what_the_spec_forbids() -> None:
    from local_stack.box_server import _OpenApiResponse, _werkzeug_headers

    validator = load_validator(SPEC_PATH.resolve())
    request = validator.to_openapi_request("GET", "/2.0/folders/0", [], [], None, "")
    numeric_id = _OpenApiResponse(
        200, json.dumps({"type": "folder", "id": 0}).encode(), _werkzeug_headers({}), "application/json"
    )
    unknown_code = json.dumps(
        {"type": "error", "status": 400, "code": "made_up", "message": "m", "request_id": "r"}
    )
    bad_error = _OpenApiResponse(400, unknown_code.encode(), _werkzeug_headers({}), "application/json")
    part = validator.to_openapi_request(
        "PUT", "/api/2.0/files/upload_sessions/X", [], [("content-range", "bytes 0-1/2")], None, ""
    )

    assert any("is not of type 'string'" in e for e in validator.response_errors(request, numeric_id))
    assert any("made_up" in e for e in validator.response_errors(request, bad_error))
    assert any("digest" in e for e in validator.request_errors(part, with_body=False))


def test_unknown_paths_are_violations(api: Api, box_server: BoxAdmin) -> None:
    assert_client_error(api.get("/2.0/not_a_thing"), 404, "not_found")

    violations = box_server.call("GET", "violations")

    assert [(v["path"], v["phase"]) for v in violations] == [("/2.0/not_a_thing", "request")]
    assert "PathNotFound" in violations[0]["error"]
    assert box_server.call("DELETE", "violations") == []


# --- the command line --------------------------------------------------------------------


def test_cli_writes_its_port_and_stops_on_sigterm(tmp_path: Path) -> None:
    port_file = tmp_path / "box.port"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local_stack.box_server",
            "--data-dir",
            str(tmp_path / "data"),
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            "--port-file",
            str(port_file),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            assert time.monotonic() < deadline, "the server did not write its port file"
            time.sleep(0.05)
        base_url = f"http://127.0.0.1:{int(port_file.read_text())}"
        token = token_request(base_url).json()["access_token"]
        root = requests.get(
            f"{base_url}/2.0/folders/0", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert root.json()["name"] == "All Files"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    assert not port_file.exists()
