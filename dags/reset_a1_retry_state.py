"""
### Reset the A1 retry state of campaigns (manual, with a form)

Trigger it with **Trigger DAG** and fill the form:

- *scope*: `one campaign` (give its `campaign_id`, the DAM folder id) or
  `all permanently failed`;
- *columns*: `all four` (count 0, last retry time, flag and reason cleared) or
  `count and flag` (count 0 and flag false, keeping the last failure on record).

Either way, the next hand-off run tries the campaign again from attempt 1. It runs the same
SQL files operators run in psql (`include/sql/operations/`); the task log lists each
campaign it reset.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param, get_current_context, task

from campaign_handoff import resets

with DAG(
    dag_id="reset_a1_retry_state",
    description="Reset the retry state of one campaign or of every permanently failed one",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    tags=["campaign-handoff", "operations"],
    params={
        "scope": Param(
            resets.SCOPE_ONE,
            type="string",
            enum=[resets.SCOPE_ONE, resets.SCOPE_ALL_FAILED],
            title="Which campaigns",
        ),
        "campaign_id": Param(
            "",
            type="string",
            title="Campaign id",
            description="The DAM folder id of the campaign (only for 'one campaign').",
        ),
        "columns": Param(
            resets.COLUMNS_ALL,
            type="string",
            enum=[resets.COLUMNS_ALL, resets.COLUMNS_COUNT_AND_FLAG],
            title="What to reset",
        ),
    },
) as dag:

    @task
    def reset_retry_state() -> list[str]:
        params = get_current_context()["params"]
        return resets.reset(params["scope"], params.get("campaign_id") or "", params["columns"])

    reset_retry_state()
