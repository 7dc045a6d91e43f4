-- An optional per-campaign attempt limit (NULL: the global a1_max_retries setting), and a
-- ledger of attempts keyed by DAG run, which makes counting idempotent: a task retry or a
-- clear of the same run finds its attempt here instead of counting another one.
ALTER TABLE campaign_status
    ADD COLUMN a1_max_retries integer CHECK (a1_max_retries IS NULL OR a1_max_retries >= 1);

COMMENT ON COLUMN campaign_status.a1_max_retries IS
    'Per-campaign attempt limit; NULL falls back to the global a1_max_retries Variable.';

CREATE TABLE a1_retry_attempt (
    campaign_id    text        NOT NULL REFERENCES campaign_status (campaign_id),
    dag_run_id     text        NOT NULL,
    attempt        integer     NOT NULL CHECK (attempt >= 1),
    max_attempts   integer     NOT NULL CHECK (max_attempts >= 1),
    is_final       boolean     NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    email_sent_at  timestamptz,
    PRIMARY KEY (campaign_id, dag_run_id)
);

CREATE INDEX a1_retry_attempt_recorded_at_idx ON a1_retry_attempt (recorded_at);
