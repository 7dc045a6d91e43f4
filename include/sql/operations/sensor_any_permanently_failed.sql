-- For a SqlSensor: true as soon as some campaign in A1 is permanently failed.
SELECT EXISTS (
    SELECT 1 FROM campaign_status WHERE a1_permanently_failed AND dam_status = 'A1'
);
