-- One verified master asset in Box. A task retry of the same run logs nothing twice.
INSERT INTO upload_log (campaign_id, dag_run_id, otmm_asset_id, file_name, size_bytes, sha1,
                        box_folder_id, box_file_id, upload_method)
VALUES (%(campaign_id)s, %(dag_run_id)s, %(otmm_asset_id)s, %(file_name)s, %(size_bytes)s, %(sha1)s,
        %(box_folder_id)s, %(box_file_id)s, %(upload_method)s)
ON CONFLICT (campaign_id, dag_run_id, otmm_asset_id) DO UPDATE
   SET box_file_id   = EXCLUDED.box_file_id,
       size_bytes    = EXCLUDED.size_bytes,
       sha1          = EXCLUDED.sha1,
       upload_method = EXCLUDED.upload_method,
       uploaded_at   = now();
