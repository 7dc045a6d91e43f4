"""Resets of the retry state, as the ``reset_a1_retry_state`` DAG offers them.

They run the operators' own SQL files, so the UI and psql reset in exactly the same way.
"""

from __future__ import annotations

import logging

from campaign_handoff.tracking import CampaignTracking

log = logging.getLogger(__name__)

SCOPE_ONE = "one campaign"
SCOPE_ALL_FAILED = "all permanently failed"
COLUMNS_ALL = "all four"
COLUMNS_COUNT_AND_FLAG = "count and flag"


def reset(scope: str, campaign_id: str, columns: str, tracking: CampaignTracking | None = None) -> list[str]:
    """Reset and return the ids reset; refuse a request that would silently do nothing."""
    tracking = tracking or CampaignTracking()
    campaign_id = campaign_id.strip()
    if scope == SCOPE_ONE:
        if not campaign_id:
            raise ValueError("Scope 'one campaign' needs a campaign_id (the campaign's DAM folder id).")
        query = "reset_campaign" if columns == COLUMNS_ALL else "reset_campaign_count_and_flag"
        rows = tracking.run_query(f"operations/{query}.sql", {"campaign_id": campaign_id})
        if not rows:
            raise LookupError(
                f"No campaign with id {campaign_id!r} in campaign_status. Check the id with "
                "include/sql/operations/list_failed.sql."
            )
    elif scope == SCOPE_ALL_FAILED:
        if columns != COLUMNS_ALL:
            raise ValueError("Resetting all failed campaigns resets all four columns; choose 'all four'.")
        rows = tracking.run_query("operations/reset_all_failed.sql", {})
    else:
        raise ValueError(f"Unknown scope {scope!r}; use {SCOPE_ONE!r} or {SCOPE_ALL_FAILED!r}.")
    for row in rows:
        log.info("Reset campaign %s (%s)", row["campaign_id"], row["campaign_name"])
    log.info("%d campaign(s) reset (%s)", len(rows), columns)
    return [str(row["campaign_id"]) for row in rows]
