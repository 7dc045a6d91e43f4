-- Count one failed attempt for a campaign in one DAG run, atomically and at most once.
--
-- A run that already counted (a task retry, a clear) gets its recorded attempt back instead
-- of a new one; a campaign already permanently failed is not counted at all (no row). The
-- ledger's primary key (campaign_id, dag_run_id) stops two racing executions of the same run.
WITH already AS (
    SELECT attempt, max_attempts, is_final, email_sent_at
      FROM a1_retry_attempt
     WHERE campaign_id = %(campaign_id)s
       AND dag_run_id = %(dag_run_id)s
),
bumped AS (
    UPDATE campaign_status AS cs
       SET a1_retry_count        = cs.a1_retry_count + 1,
           a1_last_retry_at      = now(),
           a1_failure_reason     = %(reason)s,
           a1_permanently_failed = cs.a1_retry_count + 1 >= COALESCE(cs.a1_max_retries, %(global_max)s)
     WHERE cs.campaign_id = %(campaign_id)s
       AND NOT cs.a1_permanently_failed
       AND NOT EXISTS (SELECT 1 FROM already)
 RETURNING cs.campaign_id,
           cs.a1_retry_count AS attempt,
           COALESCE(cs.a1_max_retries, %(global_max)s) AS max_attempts,
           cs.a1_permanently_failed AS is_final
),
recorded AS (
    INSERT INTO a1_retry_attempt (campaign_id, dag_run_id, attempt, max_attempts, is_final)
    SELECT campaign_id, %(dag_run_id)s, attempt, max_attempts, is_final
      FROM bumped
 RETURNING attempt, max_attempts, is_final, email_sent_at
)
SELECT attempt, max_attempts, is_final, email_sent_at, true AS newly_recorded FROM recorded
UNION ALL
SELECT attempt, max_attempts, is_final, email_sent_at, false AS newly_recorded FROM already;
