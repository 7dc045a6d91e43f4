-- Campaigns in A1 that the hand-off skips until someone resets them, most recent failure
-- first. (A failed campaign moved out of A1 in the DAM is no longer skipped, just not found.)
SELECT campaign_id,
       campaign_name,
       dam_status,
       a1_retry_count,
       a1_last_retry_at,
       a1_failure_reason
  FROM campaign_status
 WHERE a1_permanently_failed
   AND dam_status = 'A1'
 ORDER BY a1_last_retry_at DESC NULLS LAST, campaign_id;
