"""Which task failures are worth an Airflow retry, and which need a person at once.

A wrong password, a missing migration or a bad setting fails the same way on every retry:
failing at once puts the clear error in front of the operator minutes earlier. Everything
else (timeouts, 5xx, a database restart) keeps the task's normal retries. Exceptions are
named by import path so the DAG file imports no hook while it parses.
"""

from __future__ import annotations

from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule

HANDOFF_RETRY_POLICY = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=[
                "campaign_handoff.tracking.SchemaNotReady",
                "campaign_handoff.otmm_hook.OtmmConfigError",
                "campaign_handoff.otmm_hook.OtmmAuthError",
                "campaign_handoff.migrations.MigrationError",
            ],
            action=RetryAction.FAIL,
            reason="configuration or credentials problem: a retry cannot fix it",
        ),
        RetryRule(
            exception=ValueError,
            action=RetryAction.FAIL,
            reason="a setting or an input value is invalid: a retry cannot fix it",
        ),
    ],
)
