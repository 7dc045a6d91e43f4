"""The daily report: its content from real tracking rows, sent over a real SMTP exchange."""

from __future__ import annotations

from datetime import date

import pendulum

from campaign_handoff import handoff, report
from campaign_handoff.handoff import CampaignFacts
from campaign_handoff.tracking import CampaignTracking
from local_stack.smtp_sink import read_messages

DONE = CampaignFacts("c-done", "2026-001", "Café <Spring> 🌸")
RETRYING = CampaignFacts("c-retry", None, "Autumn")
FAILED = CampaignFacts("c-fail", None, "Winter's end")


def test_report_of_a_day_lists_handed_over_retrying_and_failed(tracking_db, smtp_sink):
    tracking = CampaignTracking()
    tracking.remember_seen([vars(DONE), vars(RETRYING), vars(FAILED)], "A1")
    for size, asset in ((1000, "a1"), (2048, "a2")):
        tracking.log_upload(
            campaign_id=DONE.campaign_id,
            dag_run_id="run-1",
            otmm_asset_id=asset,
            file_name=f"{asset}.png",
            size_bytes=size,
            sha1="0" * 40,
            box_folder_id="77",
            box_file_id=f"f-{asset}",
            upload_method="direct",
        )
    tracking.mark_handed_over(DONE.campaign_id, "77", "A2")
    handoff.record_missing_assets(RETRYING, "run-1", max_retries_setting="3", tracking=tracking)
    for run in ("run-1", "run-2", "run-3"):
        handoff.record_missing_assets(FAILED, run, max_retries_setting="3", tracking=tracking)

    subject = report.send_daily_report(
        pendulum.now("Europe/Rome"),
        recipients_setting="ops@example.com, lead@example.com",
        max_retries_setting="3",
    )

    assert subject.endswith(": 1 handed over, 1 retrying, 1 permanently failed")
    (received,) = read_messages(smtp_sink.out_dir)
    assert received["To"] == "ops@example.com, lead@example.com"
    text = received.get_body(("plain",)).get_content()
    assert "Café <Spring> 🌸 (id c-done): 2 file(s), 3.0 KiB, Box folder 77" in text
    assert "Autumn (id c-retry): attempt 1 of 3" in text
    assert "WHERE campaign_id = 'c-fail';" in text
    assert "Café &lt;Spring&gt; 🌸" in received.get_body(("html",)).get_content()


def test_an_empty_day_says_none_in_each_section():
    message = report.build_report(date(2026, 12, 5), report.ReportRows([], [], []))
    text = message.get_body(("plain",)).get_content()
    assert (
        message["Subject"]
        == "Campaign hand-off report 2026-12-05: 0 handed over, 0 retrying, 0 permanently failed"
    )
    assert text.count("  - none") == 3


def test_the_window_runs_from_the_previous_report_to_this_one():
    spring_change_evening = pendulum.datetime(2026, 3, 29, 17, 0, tz="UTC")  # 19:00 CEST
    since, until = report.report_window(spring_change_evening, "Europe/Rome")
    assert since.isoformat() == "2026-03-28T19:00:00+01:00"  # the evening before, still CET
    assert until.isoformat() == "2026-03-29T19:00:00+02:00"
    next_since, _ = report.report_window(pendulum.datetime(2026, 3, 30, 17, 0, tz="UTC"), "Europe/Rome")
    assert next_since == until  # no gap: an evening hand-off is in the next report


def test_sizes_read_like_a_person_writes_them():
    assert [report.human_bytes(n) for n in (0, 1023, 1024, 21_536_452, 5 * 1024**3)] == [
        "0 bytes",
        "1023 bytes",
        "1.0 KiB",
        "20.5 MiB",
        "5.0 GiB",
    ]
