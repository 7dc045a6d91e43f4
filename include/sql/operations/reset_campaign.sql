-- Reset one campaign: its next hand-off run tries again from attempt 1.
-- psql: psql "$CAMPAIGN_DB_URL" -v campaign_id='12345' -f reset_campaign.sql
UPDATE campaign_status
   SET a1_retry_count        = 0,
       a1_last_retry_at      = NULL,
       a1_permanently_failed = false,
       a1_failure_reason     = NULL
 WHERE campaign_id = :'campaign_id'
RETURNING campaign_id, campaign_name;
