-- Retry status of one campaign.
-- psql: psql "$CAMPAIGN_DB_URL" -v campaign_id='12345' -f retry_status_of_campaign.sql
SELECT campaign_id,
       campaign_name,
       dam_status,
       a1_retry_count,
       a1_last_retry_at,
       a1_permanently_failed,
       a1_failure_reason,
       a1_max_retries,
       box_folder_id,
       handed_over_at
  FROM campaign_status
 WHERE campaign_id = :'campaign_id';
