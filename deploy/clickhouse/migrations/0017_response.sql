-- Issue 18: the brand's own voice and how fast it answers (docs/response.md).
-- Per-minute response figures (detectors/response.py): complaints addressed to the brand, its
-- replies, complaints whose 15 min / 1 h deadline fell in the minute and those answered by then,
-- first responses of the last hour and their median delay, complaints of the last hour still
-- unanswered, minutes since the brand's last reply. Old rows read 0.
ALTER TABLE brand_minutes ADD COLUMN complaints UInt32 DEFAULT 0 AFTER burst_term_negative;
ALTER TABLE brand_minutes ADD COLUMN brand_replies UInt32 DEFAULT 0 AFTER complaints;
ALTER TABLE brand_minutes ADD COLUMN due_15m UInt32 DEFAULT 0 AFTER brand_replies;
ALTER TABLE brand_minutes ADD COLUMN answered_15m UInt32 DEFAULT 0 AFTER due_15m;
ALTER TABLE brand_minutes ADD COLUMN due_1h UInt32 DEFAULT 0 AFTER answered_15m;
ALTER TABLE brand_minutes ADD COLUMN answered_1h UInt32 DEFAULT 0 AFTER due_1h;
ALTER TABLE brand_minutes ADD COLUMN responses_1h UInt32 DEFAULT 0 AFTER answered_1h;
ALTER TABLE brand_minutes ADD COLUMN response_median_s Float32 DEFAULT 0 AFTER responses_1h;
ALTER TABLE brand_minutes ADD COLUMN unanswered_1h UInt32 DEFAULT 0 AFTER response_median_s;
ALTER TABLE brand_minutes ADD COLUMN silent_min UInt32 DEFAULT 0 AFTER unanswered_1h;
-- A crowd post that names the brand's @handle or official account (a complaint if negative).
ALTER TABLE posts ADD COLUMN addressed UInt8 DEFAULT 0 AFTER campaign;
-- Posts of the brand's official accounts: its replies. Kept out of posts so that nothing counting
-- the crowd (brand_hours/brand_days, reports, boards) ever counts them. Same identity and
-- replacement as posts (a redelivery replaces itself; read with FINAL).
CREATE TABLE IF NOT EXISTS brand_replies
(
    brand String,
    created_at DateTime('UTC'),
    post_key String,
    platform String,
    post_id String,
    author_id String,
    author_handle String,
    text String,
    url String,
    reply_to String,
    scored_at DateTime('UTC'),
    backfill UInt8 DEFAULT 0,
    inserted_at DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree(scored_at)
PARTITION BY toYYYYMM(created_at)
ORDER BY (brand, created_at, post_key);
-- The care queue: complaints (negative original crowd posts addressed to the brand, or replying
-- to one of its posts) that no brand reply answers yet, of the last 24 h before the brand's
-- latest post (event time: a replay shows the queue as it stood). reach = followers + 10 x
-- engagement; priority = reach x (1 + age in hours): big and old first. Filter by brand.
CREATE VIEW IF NOT EXISTS care_queue AS
SELECT
    brand, post_key, platform, post_id, created_at, author_id, author_handle, followers,
    engagement, reach, intDiv(toInt64(as_of) - toInt64(created_at), 60) AS age_min,
    reach * (1 + age_min / 60) AS priority, text, url
FROM
(
    SELECT
        brand, post_key, platform, post_id, created_at, author_id, author_handle, followers,
        likes + reposts + replies + quotes AS engagement, followers + 10 * engagement AS reach,
        text, url
    FROM posts FINAL
    WHERE sentiment_label = 'negative' AND repost_of = ''
        AND (addressed = 1 OR (platform, reply_to) IN (SELECT platform, post_id FROM brand_replies))
        AND (brand, platform, post_id) NOT IN (SELECT brand, platform, reply_to FROM brand_replies)
) AS complaint
ANY INNER JOIN
(
    SELECT brand, max(created_at) AS as_of FROM posts GROUP BY brand
) AS latest USING brand
WHERE created_at + 86400 >= as_of;
