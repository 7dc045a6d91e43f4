-- Which campaign each Box folder belongs to, for good. A folder found by name is used only
-- by the campaign that claimed it first; the primary key makes two racing runs agree, and a
-- claim outlives renames, so a later campaign can never write into an earlier one's folder.
CREATE TABLE box_folder_claim (
    box_folder_id text        PRIMARY KEY,
    campaign_id   text        NOT NULL REFERENCES campaign_status (campaign_id),
    folder_name   text        NOT NULL,
    claimed_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX box_folder_claim_campaign_idx ON box_folder_claim (campaign_id);

-- Folders the hand-off already used before this migration belong to their campaigns.
INSERT INTO box_folder_claim (box_folder_id, campaign_id, folder_name)
SELECT DISTINCT ON (box_folder_id) box_folder_id, campaign_id, ''
  FROM campaign_status
 WHERE box_folder_id IS NOT NULL
 ORDER BY box_folder_id, handed_over_at NULLS LAST
ON CONFLICT DO NOTHING;
