-- What one run uploaded for one campaign: the summary the hand-off logs at its end.
SELECT count(*) AS files, coalesce(sum(size_bytes), 0) AS bytes
  FROM upload_log
 WHERE campaign_id = %(campaign_id)s
   AND dag_run_id = %(dag_run_id)s;
