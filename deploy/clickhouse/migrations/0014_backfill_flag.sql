-- Issue 16: rows written by `crisis-radar backfill` (a user's history run through the pipeline
-- core) are flagged 1; the live worker writes 0, and rows written before this migration read 0.
-- Not part of any sort key: a backfilled row with the same identity as a live one replaces it on
-- merge like any redelivery. The rollups need nothing: the brand_hours/brand_days views select
-- named columns of posts and brand_hours_exact named columns of brand_minutes, so they keep
-- working and count backfilled rows too (filter the base tables with backfill = 0 for live only).
ALTER TABLE posts ADD COLUMN backfill UInt8 DEFAULT 0 AFTER scored_at;
ALTER TABLE brand_minutes ADD COLUMN backfill UInt8 DEFAULT 0 AFTER version;
ALTER TABLE alerts ADD COLUMN backfill UInt8 DEFAULT 0 AFTER created_at;
