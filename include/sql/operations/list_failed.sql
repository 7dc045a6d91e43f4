-- Campaigns the hand-off skips until someone resets them, most recent failure first.
SELECT campaign_id,
       campaign_name,
       dam_status,
       a1_retry_count,
       a1_last_retry_at,
       a1_failure_reason
  FROM campaign_status
 WHERE a1_permanently_failed
 ORDER BY a1_last_retry_at DESC NULLS LAST, campaign_id;
