-- The campaign holding a Box folder. Run as its own statement after the claim, so that under
-- READ COMMITTED it sees a claim another run committed meanwhile.
SELECT campaign_id FROM box_folder_claim WHERE box_folder_id = %(box_folder_id)s;
