-- How the campaigns waiting in A1 stand: no issues, attempt 1, attempt 2, ..., permanently failed.
SELECT CASE
           WHEN a1_permanently_failed THEN 'permanently failed'
           WHEN a1_retry_count = 0 THEN 'no issues'
           ELSE 'attempt ' || a1_retry_count
       END AS retry_stage,
       count(*) AS campaigns
  FROM campaign_status
 WHERE dam_status = 'A1'
 GROUP BY 1
 ORDER BY min(CASE WHEN a1_permanently_failed THEN 1000000 ELSE a1_retry_count END);
