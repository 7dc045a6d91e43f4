-- The email of one attempt went out. Older attempts still unsent are settled with it: their
-- news is out of date, and one email per attempt is the most the support team gets.
UPDATE a1_retry_attempt AS ra
   SET email_sent_at = now()
  FROM a1_retry_attempt AS sent
 WHERE sent.campaign_id = %(campaign_id)s
   AND sent.dag_run_id = %(dag_run_id)s
   AND ra.campaign_id = sent.campaign_id
   AND ra.email_sent_at IS NULL
   AND ra.recorded_at <= sent.recorded_at;
