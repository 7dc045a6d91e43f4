"""Bad input and faults met by the hand-off's tasks, against the real local services."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime

import pytest

from campaign_handoff import emails, handoff
from campaign_handoff.handoff import CampaignFacts
from campaign_handoff.retry_policy import Route
from campaign_handoff.tracking import CampaignTracking
from local_stack.smtp_sink import read_messages

pytest_plugins = ("tests.otmm_fixtures", "tests.box_fixtures")

THRESHOLD = 20 * 1024 * 1024


@pytest.fixture
def services(tracking_db, db, smtp_sink, otmm_stack, box_conn):
    otmm_stack.connect()
    return {"db": db, "smtp": smtp_sink, "otmm": otmm_stack, "box": box_conn, "tracking": CampaignTracking()}


def hand_over(campaign: CampaignFacts, run_id: str, tracking: CampaignTracking) -> dict:
    """The upload path's tasks in the DAG's order."""
    folder = handoff.ensure_box_folder(campaign, "0", tracking=tracking)
    result = handoff.upload_master_assets(
        campaign, folder, run_id, chunked_threshold_bytes=THRESHOLD, tracking=tracking
    )
    handoff.set_dam_status_handed_over(campaign)
    handoff.mark_handed_over(campaign, folder, run_id, tracking=tracking)
    return {"folder": folder, **result}


def found(services) -> dict[str, CampaignFacts]:
    return {c["campaign_id"]: CampaignFacts.of(c) for c in handoff.find_campaigns_to_hand_over()}


def test_file_names_that_merge_in_box_all_arrive(services):
    otmm = services["otmm"]
    files = {"Logo.png": b"upper", "logo.png": b"lower", "brief.pdf ": b"spaced", "brief.pdf": b"plain"}
    otmm.add_campaign("c-names-0001", "Names", "A1", files)
    campaign = found(services)["c-names-0001"]
    result = hand_over(campaign, "run-1", services["tracking"])
    assert result["files"] == 4
    in_folder = [f for f in services["box"].tree(verify=True)["files"] if "Names" in f["path"]]
    assert len(in_folder) == 4
    assert {f["sha1"] for f in in_folder} == {hashlib.sha1(content).hexdigest() for content in files.values()}
    assert all(f.get("versions", 1) in (1, None) for f in in_folder)


def test_two_campaigns_whose_names_merge_get_their_own_folders(services):
    otmm = services["otmm"]
    otmm.add_campaign("c-brand-0001", "Brand/Launch", "A1", {"brief.pdf": b"one"})
    otmm.add_campaign("c-brand-0002", "Brand-Launch", "A1", {"brief.pdf": b"two"})
    for campaign_id in ("c-brand-0001", "c-brand-0002"):
        campaign = found(services)[campaign_id]
        campaign = CampaignFacts(campaign.campaign_id, None, campaign.campaign_name)  # no number
        hand_over(campaign, "run-1", services["tracking"])
    folders = (
        services["db"]
        .execute("SELECT box_folder_id FROM campaign_status WHERE campaign_id LIKE 'c-brand-%'")
        .fetchall()
    )
    assert len({f[0] for f in folders}) == 2


def test_the_final_email_is_delivered_by_a_later_run_when_the_relay_was_down(services, monkeypatch):
    tracking = services["tracking"]
    autumn = found(services)[services["otmm"].sample("Autumn").id]
    for run in ("run-1", "run-2"):
        handoff.record_missing_assets(autumn, run, max_retries_setting="3", tracking=tracking)
        handoff.email_missing_assets(autumn, run, recipients_setting="ops@example.com", backoff_setting="")
    handoff.record_missing_assets(autumn, "run-3", max_retries_setting="3", tracking=tracking)

    good_conn = json.loads(os.environ["AIRFLOW_CONN_SMTP_DEFAULT"])
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({**good_conn, "port": 1}))
    with pytest.raises(emails.EmailDeliveryError, match=r"smtp_default.*Check that the relay is up"):
        handoff.email_missing_assets(
            autumn, "run-3", recipients_setting="ops@example.com", backoff_setting=""
        )

    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps(good_conn))
    decision = handoff.decide_route(autumn, "run-4", backoff_setting="", tracking=tracking)
    assert decision.route is Route.MISSING_ASSETS
    assert handoff.record_missing_assets(autumn, "run-4", max_retries_setting="3", tracking=tracking) is None
    assert handoff.email_missing_assets(
        autumn, "run-4", recipients_setting="ops@example.com", backoff_setting=""
    )
    subjects = [str(m["Subject"]) for m in read_messages(services["smtp"].out_dir)]
    assert subjects[-1].startswith("PERMANENTLY FAILED") and len(subjects) == 3
    assert (
        handoff.decide_route(autumn, "run-5", backoff_setting="", tracking=tracking).route
        is Route.SKIP_FAILED
    )


def test_no_recipients_fails_the_email_task_and_the_email_is_still_owed(services):
    tracking = services["tracking"]
    autumn = found(services)[services["otmm"].sample("Autumn").id]
    handoff.record_missing_assets(autumn, "run-1", max_retries_setting="3", tracking=tracking)
    with pytest.raises(ValueError, match="handoff_error_recipients"):
        handoff.email_missing_assets(autumn, "run-1", recipients_setting="", backoff_setting="")
    assert tracking.latest_unsent_attempt(autumn.campaign_id)["attempt"] == 1


def test_a_bad_backoff_setting_never_holds_up_an_upload(services):
    spring = found(services)[services["otmm"].sample("Café Spring").id]
    decision = handoff.decide_route(spring, "run-1", backoff_setting="3m,10m", tracking=services["tracking"])
    assert decision.route is Route.UPLOAD
    autumn = found(services)[services["otmm"].sample("Autumn").id]
    with pytest.raises(ValueError, match="a1_retry_backoff_minutes"):
        handoff.decide_route(autumn, "run-1", backoff_setting="nan", tracking=services["tracking"])


def test_campaigns_that_left_a1_elsewhere_are_no_longer_reported_as_a1(services):
    otmm, db = services["otmm"], services["db"]
    autumn_id = otmm.sample("Autumn").id
    found(services)
    meta_path = otmm.campaigns_dir / autumn_id / "campaign.json"
    meta = json.loads(meta_path.read_text("utf-8"))
    meta_path.write_text(json.dumps({**meta, "status": "A0"}, ensure_ascii=False), "utf-8")
    assert autumn_id not in found(services)
    assert db.execute(
        "SELECT dam_status FROM campaign_status WHERE campaign_id = %s", (autumn_id,)
    ).fetchone() == ("A0",)


def test_a_nul_in_a_campaign_name_does_not_stop_the_run(services):
    otmm = services["otmm"]
    otmm.add_campaign("c-nul-0001", "Bad\x00Name", "A1")
    assert found(services)["c-nul-0001"].campaign_name == "BadName"


def test_the_daily_report_counts_each_file_once_across_runs(services):
    from campaign_handoff import report

    tracking = services["tracking"]
    spring = found(services)[services["otmm"].sample("Café Spring").id]
    first = hand_over(spring, "run-1", tracking)
    services["db"].execute(
        "UPDATE campaign_status SET dam_status = 'A1' WHERE campaign_id = %s", (spring.campaign_id,)
    )
    hand_over(spring, "run-2", tracking)
    since, until = report.report_window(datetime.now(UTC))
    (row,) = tracking.run_query("queries/report_handed_over.sql", {"since": since, "until": until})
    assert (row["files"], row["bytes"]) == (first["files"], first["bytes"])


@pytest.mark.parametrize("raw", ["20MB", "nan", "5", ""])
def test_the_chunked_threshold_setting_is_checked_and_named(raw):
    if raw == "":
        assert handoff.parse_threshold_mb(raw) == 50 * 1024 * 1024
        return
    with pytest.raises(ValueError, match="box_chunked_upload_threshold_mb"):
        handoff.parse_threshold_mb(raw)


def test_an_html_page_in_place_of_an_asset_is_refused_before_box(services):
    from campaign_handoff.otmm_hook import OtmmProtocolError

    otmm = services["otmm"]
    otmm.add_campaign("c-html-0001", "Gateway", "A1", {"poster.png": b"x" * 64})
    campaign = found(services)["c-html-0001"]
    otmm.add_fault("/contents$", 200, times=1, method="GET", body="<html>" + "x" * 51 + "</html>")
    with pytest.raises(OtmmProtocolError, match="HTML page instead of its content"):
        hand_over(campaign, "run-1", services["tracking"])
    assert not [f for f in services["box"].tree()["files"] if "Gateway" in f["path"]]


def _campaign(
    services, campaign_id: str, number: str | None, name: str, files: dict[str, bytes]
) -> CampaignFacts:
    services["otmm"].add_campaign(campaign_id, name, "A1", files)
    facts = found(services)[campaign_id]
    return CampaignFacts(facts.campaign_id, number, facts.campaign_name)


def test_a_folder_held_by_another_campaign_is_never_written_into(services):
    tracking = services["tracking"]
    b = _campaign(services, "c-b-0001", "7", "Spring", {"brief.pdf": b"b"})
    d = _campaign(services, "c-d-0001", "7", "Spring [c-c-0001]", {"brief.pdf": b"d"})
    c = _campaign(services, "c-c-0001", "7", "Spring", {"brief.pdf": b"c"})
    hand_over(b, "run-1", tracking)
    hand_over(d, "run-1", tracking)
    with pytest.raises(RuntimeError, match="already used by another campaign"):
        hand_over(c, "run-1", tracking)
    briefs = {f["path"]: f["sha1"] for f in services["box"].tree(verify=True)["files"]}
    assert briefs["/7 - Spring/brief.pdf"] == hashlib.sha1(b"b").hexdigest()
    assert briefs["/7 - Spring [c-c-0001]/brief.pdf"] == hashlib.sha1(b"d").hexdigest()


def test_racing_campaigns_with_one_folder_name_get_one_folder_each(services):
    import threading

    tracking = services["tracking"]
    campaigns = [
        _campaign(services, f"c-race-{i}", "9", name, {"x.pdf": bytes([i])})
        for i, name in enumerate(["Brand/Launch", "Brand-Launch", "Brand/Launch", "Brand-Launch"])
    ]
    folders: dict[str, str] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(campaigns))

    def claim(campaign):
        try:
            start.wait(timeout=30)
            folders[campaign.campaign_id] = handoff.ensure_box_folder(campaign, "0", tracking=tracking)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(c,)) for c in campaigns]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(folders.values())) == len(campaigns)


def test_a_renamed_campaigns_old_folder_stays_its_own(services):
    tracking, db = services["tracking"], services["db"]
    a = _campaign(services, "c-ren-0001", "7", "Old", {"brief.pdf": b"a"})
    first = hand_over(a, "run-1", tracking)["folder"]
    db.execute("UPDATE campaign_status SET box_folder_id = NULL WHERE campaign_id = 'c-ren-0001'")
    b = _campaign(services, "c-new-0002", "7", "Old", {"brief.pdf": b"b"})
    assert handoff.ensure_box_folder(b, "0", tracking=tracking) != first


def test_an_owed_retry_email_goes_out_during_a_backoff_wait(services, monkeypatch):
    tracking = services["tracking"]
    autumn = found(services)[services["otmm"].sample("Autumn").id]
    handoff.record_missing_assets(
        autumn, "run-1", max_retries_setting="3", backoff_setting="30", tracking=tracking
    )
    with pytest.raises(ValueError, match="handoff_error_recipients"):
        handoff.email_missing_assets(autumn, "run-1", recipients_setting="", backoff_setting="30")
    decision = handoff.decide_route(autumn, "run-2", backoff_setting="30", tracking=tracking)
    assert decision.route is Route.MISSING_ASSETS
    assert (
        handoff.record_missing_assets(
            autumn, "run-2", max_retries_setting="3", backoff_setting="30", tracking=tracking
        )
        is None
    )
    assert handoff.email_missing_assets(
        autumn, "run-2", recipients_setting="ops@example.com", backoff_setting="30"
    )
    (mail,) = read_messages(services["smtp"].out_dir)
    assert "Attempt 1/3" in str(mail["Subject"])
    assert "at least 30 minutes" in mail.get_body(("plain",)).get_content()
    assert (
        handoff.decide_route(autumn, "run-3", backoff_setting="30", tracking=tracking).route
        is Route.WAIT_BACKOFF
    )


def test_a_hand_over_whose_last_step_missed_the_database_is_finished_by_the_next_run(services):
    tracking, db = services["tracking"], services["db"]
    spring = found(services)[services["otmm"].sample("Café Spring").id]
    handoff.record_missing_assets(spring, "run-0", max_retries_setting="3", tracking=tracking)
    folder = handoff.ensure_box_folder(spring, "0", tracking=tracking)
    handoff.upload_master_assets(
        spring, folder, "run-1", chunked_threshold_bytes=THRESHOLD, tracking=tracking
    )
    handoff.set_dam_status_handed_over(spring)  # ... and mark_handed_over never ran
    found(services)
    assert db.execute(
        "SELECT dam_status, handed_over_at IS NOT NULL, a1_retry_count "
        "FROM campaign_status WHERE campaign_id = %s",
        (spring.campaign_id,),
    ).fetchone() == ("A2", True, 0)


def test_clearing_an_old_run_after_a_reset_decides_afresh(services):
    tracking, db = services["tracking"], services["db"]
    autumn_id = services["otmm"].sample("Autumn").id
    autumn = found(services)[autumn_id]
    handoff.record_missing_assets(autumn, "run-1", max_retries_setting="3", tracking=tracking)
    db.execute("UPDATE campaign_status SET a1_retry_count = 0, a1_permanently_failed = false")
    (services["otmm"].campaigns_dir / autumn_id / "Master Assets" / "late.pdf").write_bytes(
        b"%PDF-1.4\n%%EOF\n"
    )
    assert handoff.decide_route(autumn, "run-1", backoff_setting="", tracking=tracking).route is Route.UPLOAD


def test_box_errors_a_retry_cannot_fix_fail_the_task_at_once(services):
    from airflow.sdk.exceptions import AirflowFailException

    from campaign_handoff.box_hook import BoxHookError

    spring = found(services)[services["otmm"].sample("Café Spring").id]
    services["box"].add_fault("POST", r"^/2\.0/folders$", status=403, times=1)
    with pytest.raises(AirflowFailException, match="permission"):
        handoff.ensure_box_folder(spring, "0", tracking=services["tracking"])
    services["box"].add_fault("POST", r"^/2\.0/folders$", status=503, times=None, retry_after=0)
    with pytest.raises(BoxHookError) as raised:
        handoff.ensure_box_folder(spring, "0", tracking=services["tracking"])
    assert raised.value.retryable
    services["box"].call("DELETE", "faults")
