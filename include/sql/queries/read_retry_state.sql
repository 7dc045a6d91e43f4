-- The retry columns the branch decides on, the attempt this DAG run already counted, and
-- whether an attempt's email is still owed.
SELECT cs.a1_retry_count,
       cs.a1_last_retry_at,
       cs.a1_permanently_failed,
       cs.a1_failure_reason,
       cs.a1_max_retries,
       ra.attempt AS attempt_of_this_run,
       EXISTS (
           SELECT 1
             FROM a1_retry_attempt AS owed
            WHERE owed.campaign_id = cs.campaign_id
              AND owed.email_sent_at IS NULL
       ) AS email_owed
  FROM campaign_status AS cs
  LEFT JOIN a1_retry_attempt AS ra
         ON ra.campaign_id = cs.campaign_id
        AND ra.dag_run_id = %(dag_run_id)s
 WHERE cs.campaign_id = %(campaign_id)s;
