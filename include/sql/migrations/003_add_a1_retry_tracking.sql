-- Retry state for campaigns stuck in A1 with an empty Master Assets folder. The four column
-- names are an interface: dashboards, SQL sensors and the operators' runbook use them.
ALTER TABLE campaign_status
    ADD COLUMN a1_retry_count        integer     NOT NULL DEFAULT 0 CHECK (a1_retry_count >= 0),
    ADD COLUMN a1_last_retry_at      timestamptz,
    ADD COLUMN a1_permanently_failed boolean     NOT NULL DEFAULT false,
    ADD COLUMN a1_failure_reason     text;

COMMENT ON COLUMN campaign_status.a1_retry_count IS
    'Failed hand-off attempts (no master assets) since the last success or reset.';
COMMENT ON COLUMN campaign_status.a1_permanently_failed IS
    'True once the attempt limit is reached: the hand-off skips the campaign until reset.';

-- Sensors and dashboards poll the failed ones and the per-attempt counts of A1 campaigns.
CREATE INDEX campaign_status_a1_failed_idx
    ON campaign_status (a1_permanently_failed, a1_last_retry_at)
    WHERE a1_permanently_failed;
CREATE INDEX campaign_status_dam_status_retry_idx
    ON campaign_status (dam_status, a1_retry_count);
