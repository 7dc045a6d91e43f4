-- Campaigns whose files reached Box in the report's window, with file counts and bytes.
SELECT cs.campaign_id,
       cs.campaign_name,
       cs.box_folder_id,
       count(*)                AS files,
       sum(ul.size_bytes)      AS bytes,
       max(ul.uploaded_at)     AS last_upload_at
  FROM upload_log AS ul
  JOIN campaign_status AS cs USING (campaign_id)
 WHERE ul.uploaded_at >= %(since)s
   AND ul.uploaded_at < %(until)s
 GROUP BY cs.campaign_id, cs.campaign_name, cs.box_folder_id
 ORDER BY last_upload_at, cs.campaign_id;
