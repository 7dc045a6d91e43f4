-- The DAM status as the DAM reports it now. A campaign found in the hand-off status with
-- files of its own in upload_log was handed over by a run whose last step never reached
-- this table: finish that bookkeeping (handed-over time, retry columns cleared).
UPDATE campaign_status AS cs
   SET dam_status   = %(dam_status)s,
       last_seen_at = now(),
       handed_over_at = CASE WHEN finished.yes THEN coalesce(cs.handed_over_at, now()) ELSE cs.handed_over_at END,
       a1_retry_count        = CASE WHEN finished.yes THEN 0 ELSE cs.a1_retry_count END,
       a1_last_retry_at      = CASE WHEN finished.yes THEN NULL ELSE cs.a1_last_retry_at END,
       a1_permanently_failed = CASE WHEN finished.yes THEN false ELSE cs.a1_permanently_failed END,
       a1_failure_reason     = CASE WHEN finished.yes THEN NULL ELSE cs.a1_failure_reason END
  FROM (
      SELECT %(dam_status)s = %(handed_over_status)s
             AND EXISTS (SELECT 1 FROM upload_log WHERE campaign_id = %(campaign_id)s) AS yes
  ) AS finished
 WHERE cs.campaign_id = %(campaign_id)s;
