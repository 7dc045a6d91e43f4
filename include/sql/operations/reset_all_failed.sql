-- Reset every permanently failed campaign: each is tried again on the next run.
-- psql: psql "$CAMPAIGN_DB_URL" -f reset_all_failed.sql
UPDATE campaign_status
   SET a1_retry_count        = 0,
       a1_last_retry_at      = NULL,
       a1_permanently_failed = false,
       a1_failure_reason     = NULL
 WHERE a1_permanently_failed
RETURNING campaign_id, campaign_name;
