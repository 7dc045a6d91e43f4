-- One row per master asset verified in Box: what was uploaded, by which run, where it landed.
CREATE TABLE upload_log (
    upload_id       bigserial   PRIMARY KEY,
    campaign_id     text        NOT NULL REFERENCES campaign_status (campaign_id),
    dag_run_id      text        NOT NULL,
    otmm_asset_id   text        NOT NULL,
    file_name       text        NOT NULL,
    size_bytes      bigint      NOT NULL CHECK (size_bytes >= 0),
    sha1            char(40)    NOT NULL,
    box_folder_id   text        NOT NULL,
    box_file_id     text        NOT NULL,
    upload_method   text        NOT NULL,
    uploaded_at     timestamptz NOT NULL DEFAULT now(),
    -- A task retry of the same run re-logs nothing.
    UNIQUE (campaign_id, dag_run_id, otmm_asset_id)
);

CREATE INDEX upload_log_uploaded_at_idx ON upload_log (uploaded_at);
