-- The attempt's email went out: a later retry of the same run must not send it again.
UPDATE a1_retry_attempt
   SET email_sent_at = now()
 WHERE campaign_id = %(campaign_id)s
   AND dag_run_id = %(dag_run_id)s
   AND email_sent_at IS NULL;
