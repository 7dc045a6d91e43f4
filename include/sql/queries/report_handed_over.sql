-- Campaigns handed over in the report's window, with the files now in Box: each asset once
-- (its latest upload), however many runs it took.
WITH latest_upload AS (
    SELECT DISTINCT ON (ul.campaign_id, ul.otmm_asset_id)
           ul.campaign_id, ul.otmm_asset_id, ul.size_bytes
      FROM upload_log AS ul
     WHERE ul.uploaded_at < %(until)s
     ORDER BY ul.campaign_id, ul.otmm_asset_id, ul.uploaded_at DESC
)
SELECT cs.campaign_id,
       cs.campaign_name,
       cs.box_folder_id,
       count(lu.otmm_asset_id)         AS files,
       coalesce(sum(lu.size_bytes), 0) AS bytes,
       cs.handed_over_at
  FROM campaign_status AS cs
  JOIN latest_upload AS lu USING (campaign_id)
 WHERE cs.handed_over_at >= %(since)s
   AND cs.handed_over_at < %(until)s
 GROUP BY cs.campaign_id, cs.campaign_name, cs.box_folder_id, cs.handed_over_at
 ORDER BY cs.handed_over_at, cs.campaign_id;
