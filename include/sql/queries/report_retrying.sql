-- Campaigns in A1 that have failed attempts but are still being tried.
SELECT campaign_id,
       campaign_name,
       a1_retry_count,
       coalesce(a1_max_retries, %(global_max)s) AS max_attempts,
       a1_last_retry_at
  FROM campaign_status
 WHERE dam_status = 'A1'
   AND a1_retry_count > 0
   AND NOT a1_permanently_failed
 ORDER BY a1_last_retry_at, campaign_id;
