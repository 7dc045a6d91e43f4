-- Claim a Box folder for a campaign unless another campaign holds it; return the holder.
WITH claimed AS (
    INSERT INTO box_folder_claim (box_folder_id, campaign_id, folder_name)
    VALUES (%(box_folder_id)s, %(campaign_id)s, %(folder_name)s)
    ON CONFLICT (box_folder_id) DO NOTHING
    RETURNING campaign_id
)
SELECT campaign_id FROM claimed
UNION ALL
SELECT campaign_id FROM box_folder_claim WHERE box_folder_id = %(box_folder_id)s
LIMIT 1;
