-- Remember a campaign the DAM reported in A1 (its name may have changed since last time).
INSERT INTO campaign_status (campaign_id, campaign_number, campaign_name, dam_status)
VALUES (%(campaign_id)s, %(campaign_number)s, %(campaign_name)s, %(dam_status)s)
ON CONFLICT (campaign_id) DO UPDATE
   SET campaign_number = EXCLUDED.campaign_number,
       campaign_name   = EXCLUDED.campaign_name,
       dam_status      = EXCLUDED.dam_status,
       last_seen_at    = now();
