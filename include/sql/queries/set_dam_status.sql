-- The DAM status as the DAM reports it now.
UPDATE campaign_status
   SET dam_status = %(dam_status)s,
       last_seen_at = now()
 WHERE campaign_id = %(campaign_id)s;
