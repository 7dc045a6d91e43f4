-- Another campaign already using this Box folder, if any.
SELECT campaign_id
  FROM campaign_status
 WHERE box_folder_id = %(box_folder_id)s
   AND campaign_id <> %(campaign_id)s
 LIMIT 1;
