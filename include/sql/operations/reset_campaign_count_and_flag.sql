-- The short reset some operators use: count and flag only (timestamp and reason stay as a
-- record of the last failure). It makes the next run try again just the same.
-- psql: psql "$CAMPAIGN_DB_URL" -v campaign_id='12345' -f reset_campaign_count_and_flag.sql
UPDATE campaign_status
   SET a1_retry_count        = 0,
       a1_permanently_failed = false
 WHERE campaign_id = :'campaign_id'
RETURNING campaign_id, campaign_name;
