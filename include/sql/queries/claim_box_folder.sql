-- Claim a Box folder for a campaign unless some campaign already holds it. (When another
-- run claims it at the same moment, this waits for that run and then does nothing.)
INSERT INTO box_folder_claim (box_folder_id, campaign_id, folder_name)
VALUES (%(box_folder_id)s, %(campaign_id)s, %(folder_name)s)
ON CONFLICT (box_folder_id) DO NOTHING;
