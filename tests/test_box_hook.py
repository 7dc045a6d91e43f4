"""BoxHook against the local Box server, through the real ``box_sdk_gen`` client over HTTP.

Every test runs with the server validating requests and responses against
``box-openapi.json``; the ``box_server`` fixture fails a test that produced any violation.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from campaign_handoff import box_hook
from campaign_handoff.box_hook import (
    BoxFileInfo,
    BoxFolder,
    BoxHook,
    BoxHookError,
    BoxVerificationError,
    UploadedFile,
    box_safe_name,
)
from tests.box_fixtures import (
    CHUNKED_THRESHOLD,
    CLIENT_ID,
    CLIENT_SECRET,
    ENTERPRISE_ID,
    JWT_KEY_ID,
    JWT_PASSPHRASE,
    BoxAdmin,
    JwtKeys,
    LocalFile,
    box_connection,
    write_test_file,
)

pytest_plugins = ("tests.box_fixtures",)


@pytest.fixture(autouse=True)
def _fast_part_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the hook's own waits between part and commit attempts out of the test time."""
    monkeypatch.setattr(box_hook, "_pause", lambda seconds: None)


def small_file(tmp_path: Path, name: str = "asset.bin", size: int = 70_000, seed: int = 1) -> LocalFile:
    path = tmp_path / name
    return LocalFile(path, size, write_test_file(path, size, seed=seed))


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("Spring Campaign", "Spring Campaign", id="plain"),
        pytest.param("Café Crème", "Café Crème", id="accents"),
        pytest.param("Cafe\u0301", "Café", id="decomposed-accent-is-nfc"),
        pytest.param("Launch 🚀 👩‍👩‍👧", "Launch 🚀 👩‍👩‍👧", id="emoji-with-zwj-kept"),
        pytest.param('He said "go" it\'s on', 'He said "go" it\'s on', id="quotes"),
        pytest.param("Spring/Summer\\2025", "Spring-Summer-2025", id="slashes"),
        pytest.param("  padded name  ", "padded name", id="outer-spaces"),
        pytest.param("line\nbreak\ttab", "line break tab", id="whitespace-controls"),
        pytest.param("bell\x07null\x00del\x7f", "bellnulldel", id="control-characters"),
        pytest.param("...", "...", id="three-dots-allowed"),
    ],
)
def test_box_safe_name(raw: str, expected: str) -> None:
    assert box_safe_name(raw) == expected


def test_box_safe_name_cuts_long_names_keeping_the_extension() -> None:
    name = box_safe_name("x" * 300 + ".jpeg")
    assert len(name) == 255
    assert name.endswith("x.jpeg")


@pytest.mark.parametrize("raw", ["", "   ", ".", "..", "\x00\x01", " . "])
def test_box_safe_name_refuses_names_with_nothing_left(raw: str) -> None:
    with pytest.raises(ValueError, match="no usable Box name"):
        box_safe_name(raw)


def test_threshold_below_box_minimum_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 20000000 bytes"):
        BoxHook(chunked_threshold_bytes=19_999_999)


# --- folders -------------------------------------------------------------------------------


def test_ensure_folder_creates_then_finds(box_conn: BoxAdmin) -> None:
    hook = BoxHook()

    first = hook.ensure_folder("0", "Campaign 1001 - Spring")
    again = BoxHook().ensure_folder("0", "Campaign 1001 - Spring")
    other_case = hook.ensure_folder("0", "campaign 1001 - SPRING")

    assert first == BoxFolder(id=first.id, name="Campaign 1001 - Spring", created=True)
    assert again == BoxFolder(id=first.id, name="Campaign 1001 - Spring", created=False)
    assert other_case.id == first.id and not other_case.created
    conflicts = [r for r in box_conn.requests_made("POST", "/2.0/folders") if r["status"] == 409]
    assert len(conflicts) == 2


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("Café Crème – Été 2025", id="accents"),
        pytest.param("Launch 🚀🎉", id="emoji"),
        pytest.param("The \"Best\" 'Deals'", id="quotes"),
        pytest.param("Spring/Summer\\Autumn", id="slashes"),
        pytest.param("  trailing  ", id="spaces"),
    ],
)
def test_ensure_folder_with_awkward_names(box_conn: BoxAdmin, raw: str) -> None:
    parent = BoxHook().ensure_folder("0", "Campaigns")

    folder = BoxHook().ensure_folder(parent.id, raw)

    assert folder.created
    assert folder.name == box_safe_name(raw)
    paths = [f["path"] for f in box_conn.tree()["folders"]]
    assert f"/Campaigns/{box_safe_name(raw)}" in paths


def test_ensure_folder_refuses_a_file_of_the_same_name(box_conn: BoxAdmin, tmp_path: Path) -> None:
    local = small_file(tmp_path)
    BoxHook().upload_file("0", "Taken", local.path, local.size, local.sha1)

    with pytest.raises(BoxHookError, match=r"already has a file named 'Taken'.*Rename or move"):
        BoxHook().ensure_folder("0", "Taken")


def test_ensure_folder_in_a_missing_parent_says_what_to_check(box_conn: BoxAdmin) -> None:
    with pytest.raises(BoxHookError, match=r"HTTP 404 not_found.*check the id") as caught:
        BoxHook().ensure_folder("424242", "Anything")
    assert caught.value.status == 404
    assert not caught.value.retryable


# --- uploads -------------------------------------------------------------------------------


def test_direct_upload_is_verified_and_listed(box_conn: BoxAdmin, tmp_path: Path) -> None:
    local = small_file(tmp_path)
    hook = BoxHook()
    folder = hook.ensure_folder("0", "Direct")

    uploaded = hook.upload_file(folder.id, "hero shot.tif", local.path, local.size, local.sha1)

    assert uploaded == UploadedFile(uploaded.file_id, "hero shot.tif", local.size, local.sha1, "direct")
    stored = box_conn.file_at("/Direct/hero shot.tif")
    assert (stored["size"], stored["sha1"], stored["disk_sha1"]) == (local.size, local.sha1, local.sha1)
    assert hook.list_folder_files(folder.id) == [
        BoxFileInfo(uploaded.file_id, "hero shot.tif", local.size, local.sha1)
    ]
    assert box_conn.requests_made("POST", "/upload_sessions") == []


def test_upload_sanitises_the_file_name(box_conn: BoxAdmin, tmp_path: Path) -> None:
    local = small_file(tmp_path)

    uploaded = BoxHook().upload_file("0", ' Key "art"/v2 ✨.png ', local.path, local.size, local.sha1)

    assert uploaded.name == 'Key "art"-v2 ✨.png'
    assert box_conn.file_at('/Key "art"-v2 ✨.png')["sha1"] == local.sha1


def test_chunked_upload_of_a_big_file(box_conn: BoxAdmin, big_file: LocalFile) -> None:
    hook = BoxHook(chunked_threshold_bytes=CHUNKED_THRESHOLD)
    folder = hook.ensure_folder("0", "Chunked")

    uploaded = hook.upload_file(folder.id, "master.mov", big_file.path, big_file.size, big_file.sha1)

    assert (uploaded.method, uploaded.size, uploaded.sha1) == ("chunked", big_file.size, big_file.sha1)
    stored = box_conn.file_at("/Chunked/master.mov")
    assert (stored["size"], stored["disk_sha1"]) == (big_file.size, big_file.sha1)
    assert len(box_conn.requests_made("PUT", "/upload_sessions/")) == 3
    assert len(box_conn.requests_made("POST", "/commit")) == 1
    assert box_conn.requests_made("POST", "/api/2.0/files/content") == []

    retried = BoxHook(chunked_threshold_bytes=CHUNKED_THRESHOLD).upload_file(
        folder.id, "master.mov", big_file.path, big_file.size, big_file.sha1
    )

    assert (retried.file_id, retried.method) == (uploaded.file_id, "already_present")
    assert len(box_conn.requests_made("PUT", "/upload_sessions/")) == 3, "no part may be sent again"


def test_files_below_the_threshold_go_direct(box_conn: BoxAdmin, big_file: LocalFile) -> None:
    hook = BoxHook(chunked_threshold_bytes=big_file.size + 1)

    uploaded = hook.upload_file("0", "master.mov", big_file.path, big_file.size, big_file.sha1)

    assert uploaded.method == "direct"


def test_same_file_again_is_already_present(box_conn: BoxAdmin, tmp_path: Path) -> None:
    local = small_file(tmp_path)
    first = BoxHook().upload_file("0", "logo.svg", local.path, local.size, local.sha1)

    again = BoxHook().upload_file("0", "LOGO.svg", local.path, local.size, local.sha1)

    assert again == UploadedFile(first.file_id, "logo.svg", local.size, local.sha1, "already_present")
    assert box_conn.file_at("/logo.svg")["version_count"] == 1


def test_changed_content_becomes_a_new_version(box_conn: BoxAdmin, tmp_path: Path) -> None:
    old = small_file(tmp_path, "old.bin", seed=1)
    new = small_file(tmp_path, "new.bin", size=90_000, seed=2)
    first = BoxHook().upload_file("0", "brief.pdf", old.path, old.size, old.sha1)

    second = BoxHook().upload_file("0", "Brief.PDF", new.path, new.size, new.sha1)

    assert second == UploadedFile(first.file_id, "brief.pdf", new.size, new.sha1, "new_version")
    stored = box_conn.file_at("/brief.pdf")
    assert (stored["version_count"], stored["sha1"], stored["disk_sha1"]) == (2, new.sha1, new.sha1)


def test_empty_file(box_conn: BoxAdmin, tmp_path: Path) -> None:
    empty = small_file(tmp_path, size=0)

    uploaded = BoxHook().upload_file("0", "placeholder.txt", empty.path, 0, empty.sha1)

    assert (uploaded.size, uploaded.sha1) == (0, "da39a3ee5e6b4b0d3255bfef95601890afd80709")


def test_concurrent_tasks_share_one_folder_and_upload_in_parallel(box_conn: BoxAdmin, tmp_path: Path) -> None:
    locals_ = [small_file(tmp_path, f"asset-{n}.bin", size=200_000 + n, seed=n) for n in range(6)]

    def hand_over(local: LocalFile) -> UploadedFile:
        hook = BoxHook()
        folder = hook.ensure_folder("0", "Parallel")
        return hook.upload_file(folder.id, local.path.name, local.path, local.size, local.sha1)

    with ThreadPoolExecutor(max_workers=6) as pool:
        uploaded = list(pool.map(hand_over, locals_))

    assert {u.method for u in uploaded} == {"direct"}
    tree = box_conn.tree(verify=True)
    assert [f["path"] for f in tree["folders"]] == ["/", "/Parallel"]
    assert sorted((f["name"], f["disk_sha1"]) for f in tree["files"]) == sorted(
        (local.path.name, local.sha1) for local in locals_
    )


def test_big_new_version_goes_through_a_session(
    box_conn: BoxAdmin, tmp_path: Path, big_file: LocalFile
) -> None:
    old = small_file(tmp_path)
    hook = BoxHook(chunked_threshold_bytes=CHUNKED_THRESHOLD)
    first = hook.upload_file("0", "master.mov", old.path, old.size, old.sha1)

    second = hook.upload_file("0", "master.mov", big_file.path, big_file.size, big_file.sha1)

    assert (second.file_id, second.method) == (first.file_id, "new_version")
    assert box_conn.requests_made("POST", f"/api/2.0/files/{first.file_id}/upload_sessions")
    assert box_conn.file_at("/master.mov")["disk_sha1"] == big_file.sha1


def test_box_checks_the_sha1_we_send(box_conn: BoxAdmin, tmp_path: Path) -> None:
    local = small_file(tmp_path)

    with pytest.raises(BoxHookError, match=r"bad_digest.*retry the task") as caught:
        BoxHook().upload_file("0", "asset.bin", local.path, local.size, "0" * 40)

    assert caught.value.retryable
    assert box_conn.tree()["files"] == []


def test_local_file_of_the_wrong_size_is_not_sent(box_conn: BoxAdmin, tmp_path: Path) -> None:
    local = small_file(tmp_path)

    with pytest.raises(BoxHookError, match="has 70000 bytes, but 70001 were expected"):
        BoxHook().upload_file("0", "asset.bin", local.path, local.size + 1, local.sha1)

    assert box_conn.requests_made(path_part="/files/") == []


def test_a_malformed_sha1_is_refused_before_anything_is_sent(box_conn: BoxAdmin, tmp_path: Path) -> None:
    local = small_file(tmp_path)

    with pytest.raises(ValueError, match="must be 40 hex digits"):
        BoxHook().upload_file("0", "asset.bin", local.path, local.size, "not-a-sha1")


def test_local_file_that_changed_is_not_committed(box_conn: BoxAdmin, big_file: LocalFile) -> None:
    hook = BoxHook(chunked_threshold_bytes=CHUNKED_THRESHOLD)

    with pytest.raises(BoxHookError, match="changed after it was downloaded"):
        hook.upload_file("0", "master.mov", big_file.path, big_file.size, "f" * 40)

    assert box_conn.requests_made("POST", "/commit") == []
    assert box_conn.requests_made("DELETE", "/upload_sessions/"), "the session must be aborted"
    assert box_conn.server.state.sessions == {}


@pytest.mark.parametrize(
    "path_regex",
    [
        pytest.param(r"^/api/2\.0/files/content$", id="direct"),
        pytest.param(r"/upload_sessions/[^/]+/commit$", id="chunked"),
    ],
)
def test_verification_failure_is_reported(
    box_conn: BoxAdmin, tmp_path: Path, big_file: LocalFile, path_regex: str
) -> None:
    local = big_file if "commit" in path_regex else small_file(tmp_path)
    box_conn.add_fault("POST", path_regex, corrupt_sha1=True)

    with pytest.raises(BoxVerificationError) as caught:
        BoxHook(chunked_threshold_bytes=CHUNKED_THRESHOLD).upload_file(
            "0", "proof.bin", local.path, local.size, local.sha1
        )

    message = str(caught.value)
    stored = box_conn.file_at("/proof.bin")
    assert "'proof.bin'" in message and stored["id"] in message
    assert f"expected {local.size} bytes and sha1 {local.sha1}" in message
    assert f"Box reports {local.size} bytes and sha1 {stored['sha1']}" in message
    assert "retry the task" in message
    assert caught.value.retryable


def test_a_retry_after_a_damaged_upload_repairs_it(box_conn: BoxAdmin, tmp_path: Path) -> None:
    local = small_file(tmp_path)
    box_conn.add_fault("POST", r"^/api/2\.0/files/content$", corrupt_sha1=True)
    with pytest.raises(BoxVerificationError):
        BoxHook().upload_file("0", "proof.bin", local.path, local.size, local.sha1)

    repaired = BoxHook().upload_file("0", "proof.bin", local.path, local.size, local.sha1)

    assert repaired.method == "new_version"
    assert box_conn.file_at("/proof.bin")["disk_sha1"] == local.sha1


# --- transient failures --------------------------------------------------------------------


def test_429_once_is_retried_by_the_sdk(box_conn: BoxAdmin, tmp_path: Path) -> None:
    local = small_file(tmp_path)
    box_conn.add_fault("POST", r"^/api/2\.0/files/content$", status=429, times=1, retry_after=0)

    uploaded = BoxHook().upload_file("0", "asset.bin", local.path, local.size, local.sha1)

    assert uploaded.method == "direct"
    statuses = [r["status"] for r in box_conn.requests_made("POST", "/api/2.0/files/content")]
    assert statuses == [429, 201]
    assert box_conn.file_at("/asset.bin")["disk_sha1"] == local.sha1


def test_part_failures_are_retried_from_disk(box_conn: BoxAdmin, big_file: LocalFile) -> None:
    parts = r"^/api/2\.0/files/upload_sessions/[^/]+$"
    box_conn.add_fault("PUT", parts, status=503, times=1, retry_after=0)
    box_conn.add_fault("PUT", parts, status=400, code="digest_mismatch", times=1)

    uploaded = BoxHook(chunked_threshold_bytes=CHUNKED_THRESHOLD).upload_file(
        "0", "master.mov", big_file.path, big_file.size, big_file.sha1
    )

    assert uploaded.method == "chunked"
    statuses = [r["status"] for r in box_conn.requests_made("PUT", "/upload_sessions/")]
    assert statuses == [503, 400, 200, 200, 200]
    assert box_conn.file_at("/master.mov")["disk_sha1"] == big_file.sha1


def test_persistent_503_gives_a_clear_error(box_conn: BoxAdmin, tmp_path: Path) -> None:
    local = small_file(tmp_path)
    box_conn.add_fault("POST", r"^/api/2\.0/files/content$", status=503, times=None, retry_after=0)

    with pytest.raises(BoxHookError) as caught:
        BoxHook().upload_file("0", "asset.bin", local.path, local.size, local.sha1)

    message = str(caught.value)
    assert "Could not upload 'asset.bin' to Box folder 0: HTTP 503 unavailable" in message
    assert "retry the task later" in message
    assert (caught.value.status, caught.value.retryable) == (503, True)
    assert len(box_conn.requests_made("POST", "/api/2.0/files/content")) == 3, "max_attempts is 3"
    box_conn.call("DELETE", "faults")


def test_failed_chunked_upload_aborts_its_session(box_conn: BoxAdmin, big_file: LocalFile) -> None:
    box_conn.add_fault("PUT", r"/upload_sessions/[^/]+$", status=403, times=None)

    with pytest.raises(BoxHookError, match=r"HTTP 403 forbidden.*collaborate"):
        BoxHook(chunked_threshold_bytes=CHUNKED_THRESHOLD).upload_file(
            "0", "master.mov", big_file.path, big_file.size, big_file.sha1
        )

    assert box_conn.requests_made("DELETE", "/upload_sessions/")
    assert box_conn.server.state.sessions == {}
    box_conn.call("DELETE", "faults")


def test_expired_token_is_refreshed(box_conn: BoxAdmin) -> None:
    hook = BoxHook()
    hook.ensure_folder("0", "Before")
    box_conn.call("POST", "expire_tokens")

    folder = hook.ensure_folder("0", "After")

    assert folder.created
    assert [r["status"] for r in box_conn.requests_made("POST", "/oauth2/token")] == [200, 200]


# --- connections ---------------------------------------------------------------------------


def test_wrong_secret_is_explained_without_leaking_it(
    box_server: BoxAdmin, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    conn = json.loads(box_connection(box_server.server))
    conn["password"] = "wrong-secret-value-123"
    monkeypatch.setenv("AIRFLOW_CONN_BOX_DEFAULT", json.dumps(conn))
    caplog.set_level(logging.DEBUG)

    with pytest.raises(BoxHookError, match="refused the credentials of connection 'box_default'") as caught:
        BoxHook().ensure_folder("0", "Nope")

    assert "invalid_client" in str(caught.value)
    assert "wrong-secret-value-123" not in str(caught.value)
    assert "wrong-secret-value-123" not in caplog.text
    assert CLIENT_SECRET not in caplog.text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param({"auth_type": "basic"}, "auth_type must be 'ccg' or 'jwt'", id="auth-type"),
        pytest.param({"subject_type": "group"}, "subject_type must be", id="subject-type"),
        pytest.param({"subject_id": None}, "set extra subject_id", id="no-subject"),
        pytest.param({"auth_type": "jwt"}, "needs extra jwt_config_json", id="jwt-without-config"),
    ],
)
def test_misconfigured_connection_says_what_to_set(
    box_server: BoxAdmin, monkeypatch: pytest.MonkeyPatch, extra: dict, message: str
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_BOX_DEFAULT", box_connection(box_server.server, **extra))

    with pytest.raises(ValueError, match=message):
        BoxHook().get_conn()


def test_user_subject_through_ccg(box_server: BoxAdmin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_BOX_DEFAULT", box_connection(box_server.server, subject_type="user", subject_id="4242")
    )

    assert BoxHook().ensure_folder("0", "Mine").created


def _jwt_app_config(keys: JwtKeys, key_id: str = JWT_KEY_ID) -> dict:
    """A Box app config as the Developer Console exports it (JWT, key pair added)."""
    return {
        "boxAppSettings": {
            "clientID": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "appAuth": {"publicKeyID": key_id, "privateKey": keys.private_pem, "passphrase": JWT_PASSPHRASE},
        },
        "enterpriseID": ENTERPRISE_ID,
    }


def test_jwt_auth_signs_an_assertion_the_server_checks(
    box_server: BoxAdmin, monkeypatch: pytest.MonkeyPatch, jwt_keys: JwtKeys
) -> None:
    config = json.dumps(_jwt_app_config(jwt_keys))
    conn = {"conn_type": "generic", "extra": {**json.loads(box_connection(box_server.server))["extra"]}}
    conn["extra"].update(auth_type="jwt", jwt_config_json=config, subject_id=None)
    monkeypatch.setenv("AIRFLOW_CONN_BOX_DEFAULT", json.dumps(conn))

    assert BoxHook().ensure_folder("0", "Via JWT").created


def test_jwt_with_an_unknown_key_is_refused(
    box_server: BoxAdmin, monkeypatch: pytest.MonkeyPatch, jwt_keys: JwtKeys, caplog: pytest.LogCaptureFixture
) -> None:
    config = _jwt_app_config(jwt_keys, key_id="rotated-away")
    monkeypatch.setenv(
        "AIRFLOW_CONN_BOX_DEFAULT", box_connection(box_server.server, auth_type="jwt", jwt_config_json=config)
    )

    with pytest.raises(BoxHookError, match=r"invalid_grant.*refused the credentials") as caught:
        BoxHook().ensure_folder("0", "Via JWT")

    assert "BEGIN" not in str(caught.value) and "BEGIN" not in caplog.text
    # The SDK's own error text (chained as the cause) must not carry the signed assertion.
    assert "assertion=---[redacted]---" in str(caught.value.__cause__)
    assert "eyJ" not in str(caught.value.__cause__)
