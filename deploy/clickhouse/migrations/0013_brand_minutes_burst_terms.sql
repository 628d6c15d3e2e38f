-- New narrative (issue 5): per minute, posts carrying a term far above its usual rate for the
-- brand (>= 2 authors within a few minutes), and the negative ones among them. Old rows read 0.
ALTER TABLE brand_minutes ADD COLUMN burst_term_posts UInt32 DEFAULT 0 AFTER new_clusters;
ALTER TABLE brand_minutes ADD COLUMN burst_term_negative UInt32 DEFAULT 0 AFTER burst_term_posts;
