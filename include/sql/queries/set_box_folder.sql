-- Remember the campaign's Box folder as soon as it is known.
UPDATE campaign_status SET box_folder_id = %(box_folder_id)s WHERE campaign_id = %(campaign_id)s;
