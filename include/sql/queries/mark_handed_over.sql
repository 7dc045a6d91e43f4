-- The campaign is in Box and in A2: its retry state starts from nothing again.
UPDATE campaign_status
   SET dam_status            = %(dam_status)s,
       box_folder_id         = %(box_folder_id)s,
       handed_over_at        = now(),
       a1_retry_count        = 0,
       a1_last_retry_at      = NULL,
       a1_permanently_failed = false,
       a1_failure_reason     = NULL
 WHERE campaign_id = %(campaign_id)s;
