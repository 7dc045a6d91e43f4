-- One row per campaign the hand-off has seen in the DAM. The campaign id is OTMM's folder id.
CREATE TABLE campaign_status (
    campaign_id      text        PRIMARY KEY,
    campaign_number  text,
    campaign_name    text        NOT NULL,
    dam_status       text        NOT NULL,
    box_folder_id    text,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    handed_over_at   timestamptz
);

COMMENT ON TABLE campaign_status IS
    'Campaigns seen by the a1_to_a2_box_upload DAG; dashboards and runbooks read it.';
COMMENT ON COLUMN campaign_status.dam_status IS
    'DAM status as last seen or set by the hand-off (A1 waiting, A2 handed over).';
