-- The campaign's most recent counted attempt whose email has not gone out yet.
SELECT dag_run_id, attempt, max_attempts, is_final
  FROM a1_retry_attempt
 WHERE campaign_id = %(campaign_id)s
   AND email_sent_at IS NULL
 ORDER BY recorded_at DESC, attempt DESC
 LIMIT 1;
