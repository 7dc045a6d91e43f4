-- Campaigns whose next empty Master Assets folder fails them for good.
-- psql: psql "$CAMPAIGN_DB_URL" -v global_max=3 -f one_attempt_from_failing.sql
SELECT campaign_id,
       campaign_name,
       a1_retry_count,
       coalesce(a1_max_retries, :'global_max'::integer) AS max_attempts,
       a1_last_retry_at
  FROM campaign_status
 WHERE dam_status = 'A1'
   AND NOT a1_permanently_failed
   AND a1_retry_count = coalesce(a1_max_retries, :'global_max'::integer) - 1
 ORDER BY a1_last_retry_at, campaign_id;
