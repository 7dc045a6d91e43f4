-- Campaigns the table still holds in a DAM status (to notice those that left it elsewhere).
SELECT campaign_id FROM campaign_status WHERE dam_status = %(dam_status)s ORDER BY campaign_id;
