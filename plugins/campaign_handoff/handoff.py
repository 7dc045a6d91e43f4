"""What each task of the A1 to A2 hand-off does, as functions of explicit arguments.

The DAG file only wires these together. Hooks are built inside the functions, never at
import time, so the DAG parses without touching a database or the network. Each function
is safe to run again for the same DAG run (Airflow retries, clears): finding and routing
read state, the counting is idempotent in SQL, uploads recognise files already in Box, and
the DAM status change is a set, not a toggle.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from campaign_handoff import config, emails
from campaign_handoff.retry_policy import (
    Decision,
    Route,
    choose_route,
    next_attempt_allowed_at,
    parse_backoff,
    parse_max_retries,
)
from campaign_handoff.tracking import CampaignTracking

log = logging.getLogger(__name__)

#: Campaigns handled per run. Airflow refuses to map more than ``[core] max_map_length``
#: (1024) items; the rest wait for the next run, in the DAM's order.
MAX_CAMPAIGNS_PER_RUN = 500
#: Campaigns that left A1 whose new DAM status is looked up per run (one call each; the
#: rest wait for later runs, so a slow DAM cannot hold up the hand-off).
MAX_DEPARTED_PER_RUN = 20


@dataclass(frozen=True)
class CampaignFacts:
    """What travels between tasks through XCom: ids and small facts only."""

    campaign_id: str
    campaign_number: str | None
    campaign_name: str

    @classmethod
    def of(cls, data: dict[str, Any]) -> CampaignFacts:
        return cls(
            campaign_id=str(data["campaign_id"]),
            campaign_number=data.get("campaign_number"),
            campaign_name=str(data["campaign_name"]),
        )

    @property
    def email_ref(self) -> emails.CampaignRef:
        return emails.CampaignRef(self.campaign_id, self.campaign_name, self.campaign_number)

    @property
    def box_folder_name(self) -> str:
        """The campaign's folder in Box: number and name, so folders sort and stay unique."""
        from campaign_handoff.naming import campaign_folder_name

        return campaign_folder_name(self.campaign_id, self.campaign_number, self.campaign_name)


@contextmanager
def _box_errors_that_a_retry_cannot_fix_fail_at_once() -> Iterator[None]:
    """Turn a Box error marked not retryable (credentials, permissions, a refused name) into
    an immediate task failure, so the operator sees it now rather than after every retry."""
    from airflow.sdk.exceptions import AirflowFailException

    from campaign_handoff.box_hook import BoxHookError

    try:
        yield
    except BoxHookError as exc:
        if exc.retryable:
            raise
        raise AirflowFailException(str(exc)) from exc


def find_campaigns_to_hand_over(
    otmm_conn_id: str = config.OTMM_CONN_ID, tracking: CampaignTracking | None = None
) -> list[dict[str, Any]]:
    """List the DAM's A1 campaigns and remember each in the tracking table."""
    from campaign_handoff.naming import clean_text
    from campaign_handoff.otmm_hook import OtmmHook

    tracking = tracking or CampaignTracking()
    tracking.check_schema()
    with OtmmHook(otmm_conn_id=otmm_conn_id) as otmm:
        found = otmm.find_campaigns(config.STATUS_TO_HAND_OVER)
        campaigns = [
            asdict(
                CampaignFacts(
                    campaign_id=clean_text(str(c.id)),
                    campaign_number=clean_text(c.number) if c.number else None,
                    campaign_name=clean_text(c.name),
                )
            )
            for c in found
        ]
        _refresh_departed(otmm, tracking, {c["campaign_id"] for c in campaigns})
    if len(campaigns) > MAX_CAMPAIGNS_PER_RUN:
        log.warning(
            "%d campaigns are in %s; handling the first %d now, the rest in the next runs",
            len(campaigns),
            config.STATUS_TO_HAND_OVER,
            MAX_CAMPAIGNS_PER_RUN,
        )
        campaigns = campaigns[:MAX_CAMPAIGNS_PER_RUN]
    tracking.remember_seen(campaigns, config.STATUS_TO_HAND_OVER)
    log.info(
        "Found %d campaign(s) in %s: %s",
        len(campaigns),
        config.STATUS_TO_HAND_OVER,
        ", ".join(c["campaign_id"] for c in campaigns) or "none",
    )
    return campaigns


def _refresh_departed(otmm: Any, tracking: CampaignTracking, still_in_a1: set[str]) -> None:
    """Record the DAM status of tracked campaigns that left A1 some other way.

    A campaign moved out of A1 by a person, or set to A2 by a run whose last task could not
    reach the database, would otherwise stay "A1" in the table, and dashboards, the daily
    report and SQL sensors would go on listing it.
    """
    from campaign_handoff.otmm_hook import OtmmError, OtmmNotFoundError

    departed = [c for c in tracking.tracked_in_status(config.STATUS_TO_HAND_OVER) if c not in still_in_a1]
    if len(departed) > MAX_DEPARTED_PER_RUN:
        log.info(
            "%d campaigns left %s; refreshing %d now, the rest in later runs",
            len(departed),
            config.STATUS_TO_HAND_OVER,
            MAX_DEPARTED_PER_RUN,
        )
    for campaign_id in departed[:MAX_DEPARTED_PER_RUN]:
        try:
            status = otmm.get_campaign(campaign_id).status or "unknown"
        except OtmmNotFoundError:
            status = "deleted in DAM"
        except OtmmError as exc:
            # Bookkeeping only: never let it stop the hand-off of the campaigns still in A1.
            log.warning(
                "Campaign %s left %s; its new status is unknown for now: %s",
                campaign_id,
                config.STATUS_TO_HAND_OVER,
                exc,
            )
            continue
        tracking.set_dam_status(campaign_id, status)
        log.info(
            "Campaign %s left %s in the DAM (now %s): no longer handled",
            campaign_id,
            config.STATUS_TO_HAND_OVER,
            status,
        )


def decide_route(
    campaign: CampaignFacts,
    dag_run_id: str,
    *,
    backoff_setting: str | None,
    otmm_conn_id: str = config.OTMM_CONN_ID,
    tracking: CampaignTracking | None = None,
    now: datetime | None = None,
) -> Decision:
    """Read the retry state, ask the DAM only when needed, and pick the campaign's way."""
    tracking = tracking or CampaignTracking()
    state = tracking.retry_state(campaign.campaign_id, dag_run_id)
    has_assets: bool | None = None
    backoff: tuple = ()
    if not state.permanently_failed and not state.counted_this_run:
        from campaign_handoff.otmm_hook import MasterAssetsFolderMissing, OtmmHook

        with OtmmHook(otmm_conn_id=otmm_conn_id) as otmm:
            try:
                has_assets = bool(otmm.list_master_assets(campaign.campaign_id))
            except MasterAssetsFolderMissing as missing:
                # No folder is no assets: counted and emailed like an empty folder, so it
                # ends in one final email instead of a failed task every three minutes.
                log.warning("%s", missing)
                has_assets = False
        if not has_assets:
            # Read only when it matters: a bad backoff setting must not hold up uploads.
            backoff = parse_backoff(backoff_setting)
    decision = choose_route(
        state, has_master_assets=has_assets, now=now or datetime.now(UTC), backoff=backoff
    )
    log.info(
        "Campaign %s (%s): %s, because %s (attempts so far %d)",
        campaign.campaign_id,
        campaign.campaign_name,
        decision.route.value,
        decision.reason,
        state.retry_count,
    )
    return decision


def ensure_box_folder(
    campaign: CampaignFacts,
    root_folder_id: str,
    box_conn_id: str = config.BOX_CONN_ID,
    tracking: CampaignTracking | None = None,
) -> str:
    """Find or create the campaign's folder, never one that another campaign already uses."""
    from campaign_handoff.box_hook import BoxHook

    tracking = tracking or CampaignTracking()
    box = BoxHook(box_conn_id=box_conn_id)
    with _box_errors_that_a_retry_cannot_fix_fail_at_once():
        return _claim_box_folder(campaign, root_folder_id, box, tracking)


def _claim_box_folder(
    campaign: CampaignFacts, root_folder_id: str, box: Any, tracking: CampaignTracking
) -> str:
    from campaign_handoff.naming import with_suffix

    candidates = [
        campaign.box_folder_name,
        with_suffix(campaign.box_folder_name, f" [{campaign.campaign_id}]"),
    ]
    for name in candidates:
        folder = box.ensure_folder(root_folder_id, name)
        holder = tracking.claim_box_folder(str(folder.id), campaign.campaign_id, folder.name)
        if holder == campaign.campaign_id:
            break
        log.warning(
            "Campaign %s: Box folder %r (id %s) belongs to campaign %s; trying another name",
            campaign.campaign_id,
            folder.name,
            folder.id,
            holder,
        )
    else:
        raise RuntimeError(
            f"Campaign {campaign.campaign_id}: every Box folder name tried "
            f"({', '.join(map(repr, candidates))}) is already used by another campaign. Rename the "
            "campaign in the DAM, or the folder in Box, then clear this task."
        )
    tracking.set_box_folder(campaign.campaign_id, str(folder.id))
    log.info(
        "Campaign %s: Box folder %r (id %s, %s)",
        campaign.campaign_id,
        folder.name,
        folder.id,
        "created" if folder.created else "already there",
    )
    return str(folder.id)


def upload_master_assets(
    campaign: CampaignFacts,
    box_folder_id: str,
    dag_run_id: str,
    *,
    chunked_threshold_bytes: int,
    otmm_conn_id: str = config.OTMM_CONN_ID,
    box_conn_id: str = config.BOX_CONN_ID,
    tracking: CampaignTracking | None = None,
    spool_dir: str | None = None,
) -> dict[str, int]:
    """Copy every master asset from the DAM to the Box folder, verifying each one.

    Each file is streamed from the DAM to a temporary file of this task (hashing as it
    goes), uploaded from there so the SDK can rewind it on a retry, checked in Box for size
    and SHA-1, logged, and deleted. Memory stays flat whatever the file size; the disk
    needs room for the largest single asset.
    """
    from campaign_handoff.box_hook import BoxHook
    from campaign_handoff.naming import box_file_names, clean_text
    from campaign_handoff.otmm_hook import OtmmHook

    tracking = tracking or CampaignTracking()
    box = BoxHook(box_conn_id=box_conn_id, chunked_threshold_bytes=chunked_threshold_bytes)
    files = total_bytes = 0
    with OtmmHook(otmm_conn_id=otmm_conn_id) as otmm:
        assets = otmm.list_master_assets(campaign.campaign_id)
        if not assets:
            raise RuntimeError(
                f"Campaign {campaign.campaign_id}: the Master Assets folder became empty after this run "
                "chose to upload. Nothing was changed; the next run decides again."
            )
        names = {n.asset_id: n for n in box_file_names((str(a.id), clean_text(a.name)) for a in assets)}
        for renamed in (n for n in names.values() if n.renamed):
            log.warning(
                "Campaign %s: %r is stored in Box as %r (Box refuses or would merge the DAM name)",
                campaign.campaign_id,
                renamed.dam_name,
                renamed.box_name,
            )
        for number, asset in enumerate(assets, start=1):
            box_name = names[str(asset.id)].box_name
            with tempfile.TemporaryDirectory(prefix="handoff-", dir=spool_dir) as scratch:
                local = Path(scratch) / "asset"
                with local.open("wb") as handle:
                    downloaded = otmm.download(asset.id, handle, expected_mime_type=asset.mime_type)
                if asset.size is not None and downloaded.size != asset.size:
                    raise RuntimeError(
                        f"Campaign {campaign.campaign_id}: the DAM listed {asset.name!r} at "
                        f"{asset.size} bytes "
                        f"but sent {downloaded.size}. Nothing was uploaded for it; the task retry downloads "
                        "it again. If this repeats, check the asset in the DAM."
                    )
                with _box_errors_that_a_retry_cannot_fix_fail_at_once():
                    uploaded = box.upload_file(
                        box_folder_id, box_name, local, downloaded.size, downloaded.sha1
                    )
            tracking.log_upload(
                campaign_id=campaign.campaign_id,
                dag_run_id=dag_run_id,
                otmm_asset_id=str(asset.id),
                file_name=box_name,
                size_bytes=uploaded.size,
                sha1=uploaded.sha1,
                box_folder_id=box_folder_id,
                box_file_id=str(uploaded.file_id),
                upload_method=uploaded.method,
            )
            files += 1
            total_bytes += uploaded.size
            log.info(
                "Campaign %s: file %d/%d %r, %d bytes, sha1 %s -> Box file %s in folder %s (%s)",
                campaign.campaign_id,
                number,
                len(assets),
                box_name,
                uploaded.size,
                uploaded.sha1,
                uploaded.file_id,
                box_folder_id,
                uploaded.method,
            )
    log.info("Campaign %s: %d file(s), %d bytes verified in Box", campaign.campaign_id, files, total_bytes)
    return {"files": files, "bytes": total_bytes}


def set_dam_status_handed_over(campaign: CampaignFacts, otmm_conn_id: str = config.OTMM_CONN_ID) -> None:
    from campaign_handoff.otmm_hook import OtmmHook

    with OtmmHook(otmm_conn_id=otmm_conn_id) as otmm:
        otmm.set_status(campaign.campaign_id, config.STATUS_HANDED_OVER)
    log.info("Campaign %s: DAM status set to %s", campaign.campaign_id, config.STATUS_HANDED_OVER)


def mark_handed_over(
    campaign: CampaignFacts, box_folder_id: str, dag_run_id: str, tracking: CampaignTracking | None = None
) -> dict[str, int]:
    tracking = tracking or CampaignTracking()
    tracking.mark_handed_over(campaign.campaign_id, box_folder_id, config.STATUS_HANDED_OVER)
    files, size = tracking.uploads_of_run(campaign.campaign_id, dag_run_id)
    log.info(
        "Campaign %s handed over: %d file(s), %d bytes in Box folder %s; retry state reset",
        campaign.campaign_id,
        files,
        size,
        box_folder_id,
    )
    return {"files": files, "bytes": size}


def record_missing_assets(
    campaign: CampaignFacts,
    dag_run_id: str,
    *,
    max_retries_setting: str | None,
    backoff_setting: str | None = None,
    tracking: CampaignTracking | None = None,
    now: datetime | None = None,
) -> dict[str, Any] | None:
    """Count this run's failed attempt (once per run); None when nothing is counted.

    Nothing is counted for a campaign failed for good, nor while a backoff wait runs: the
    branch sends such a campaign here only to deliver an email still owed.
    """
    tracking = tracking or CampaignTracking()
    state = tracking.retry_state(campaign.campaign_id, dag_run_id)
    allowed_at = next_attempt_allowed_at(state, parse_backoff(backoff_setting))
    if not state.counted_this_run and allowed_at is not None and (now or datetime.now(UTC)) < allowed_at:
        log.info(
            "Campaign %s: backoff until %s, nothing counted", campaign.campaign_id, allowed_at.isoformat()
        )
        return None
    recorded = tracking.record_missing_assets_attempt(
        campaign.campaign_id, dag_run_id, parse_max_retries(max_retries_setting)
    )
    if recorded is None:
        log.info("Campaign %s is already permanently failed: nothing counted", campaign.campaign_id)
        return None
    log.info(
        "Campaign %s: attempt %d/%d %s%s",
        campaign.campaign_id,
        recorded.attempt,
        recorded.max_attempts,
        "recorded" if recorded.newly_recorded else "already recorded by this run",
        "; now permanently failed" if recorded.is_final else "",
    )
    return {
        "attempt": recorded.attempt,
        "max_attempts": recorded.max_attempts,
        "is_final": recorded.is_final,
        "email_sent": recorded.email_sent_at is not None,
    }


def parse_threshold_mb(raw: str | None) -> int:
    """The chunked-upload threshold in bytes, from the Variable's MiB."""
    try:
        value = float(str(raw).strip() or "50")
    except ValueError:
        value = float("nan")
    if not 19.1 <= value <= 1e6:  # NaN fails too; Box needs 20,000,000 bytes (19.07 MiB)
        raise ValueError(
            f"box_chunked_upload_threshold_mb must be a number of MiB from 20 up (Box's minimum for "
            f"chunked uploads), got {raw!r}"
        )
    return int(value * 1024 * 1024)


def next_step_sentence(backoff_setting: str | None, attempt: int) -> str:
    waits = parse_backoff(backoff_setting)
    if not waits:
        return "the next scheduled run looks again."
    minutes = waits[min(attempt, len(waits)) - 1].total_seconds() / 60
    shown = f"{minutes:g} minute" + ("" if minutes == 1 else "s")
    return f"the first scheduled run at least {shown} from now looks again."


def email_missing_assets(
    campaign: CampaignFacts,
    dag_run_id: str,
    *,
    recipients_setting: str | None,
    backoff_setting: str | None,
    smtp_conn_id: str = config.SMTP_CONN_ID,
    tracking: CampaignTracking | None = None,
) -> bool:
    """Send the email of the campaign's latest attempt not yet emailed; True when one went out.

    The ledger, not XCom, says what is owed, so an email that failed on every task retry
    (relay down, no recipients set) still goes out on a later run, the final one included,
    instead of being lost once the campaign is skipped.
    """
    tracking = tracking or CampaignTracking()
    owed = tracking.latest_unsent_attempt(campaign.campaign_id)
    if owed is None:
        log.info("Campaign %s: no attempt email is owed", campaign.campaign_id)
        return False
    if owed["is_final"]:
        message = emails.final_email(campaign.email_ref, owed["attempt"])
    else:
        message = emails.retry_email(
            campaign.email_ref,
            owed["attempt"],
            owed["max_attempts"],
            next_step_sentence(backoff_setting, owed["attempt"]),
        )
    emails.send(message, emails.parse_recipients(recipients_setting), smtp_conn_id=smtp_conn_id)
    # A crash between the send above and this mark re-sends the email on the task retry:
    # at least once, never silently lost. SMTP offers no way to make the pair atomic.
    tracking.mark_emails_sent_through(campaign.campaign_id, owed["dag_run_id"])
    log.info(
        "Campaign %s: email of attempt %d/%d sent (run %s)%s",
        campaign.campaign_id,
        owed["attempt"],
        owed["max_attempts"],
        owed["dag_run_id"],
        "" if owed["dag_run_id"] == dag_run_id else ", owed by an earlier run",
    )
    return True


ROUTE_TASKS = {
    Route.SKIP_FAILED: "skip_campaign",
    Route.WAIT_BACKOFF: "skip_campaign",
    Route.UPLOAD: "upload.ensure_box_folder",
    Route.MISSING_ASSETS: "record_missing_assets",
}
