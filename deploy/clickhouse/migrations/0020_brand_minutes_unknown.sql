-- Issue 21: posts in a language without a sentiment model are labelled 'unknown' (posts.
-- sentiment_label is a String, so it needs no change). brand_minutes counts them apart from
-- neutral; old rows read 0. They carry no sentiment evidence: brand_hours_exact now derives the
-- negative share and mean sentiment over posts - unknown (a burst of posts in an unsupported
-- language must not look like a drop in negativity). Dropped and recreated: a view has no ALTER
-- on 18.16, and it holds no data. brand_lang_minutes (0015) gains the unknown count per language
-- the same way (a language without a model shows its posts, not a 0 % negative share).
ALTER TABLE brand_minutes ADD COLUMN unknown UInt32 DEFAULT 0 AFTER positive;

DROP TABLE IF EXISTS brand_hours_exact;

CREATE VIEW IF NOT EXISTS brand_hours_exact AS
SELECT
    brand,
    hour,
    posts,
    unique_posts,
    negative,
    neutral,
    positive,
    unknown,
    if(posts - unknown = 0, 0, negative / (posts - unknown)) AS negative_share,
    if(posts - unknown = 0, 0, sentiment_total / (posts - unknown)) AS mean_sentiment,
    reach,
    duplicates,
    campaign_posts,
    peak_minute_authors
FROM
(
    SELECT
        brand,
        toStartOfHour(minute) AS hour,
        sum(posts) AS posts,
        sum(unique_posts) AS unique_posts,
        sum(negative) AS negative,
        sum(neutral) AS neutral,
        sum(positive) AS positive,
        sum(unknown) AS unknown,
        sum(sentiment_sum) AS sentiment_total,
        sum(reach) AS reach,
        sum(duplicates) AS duplicates,
        sum(campaign_posts) AS campaign_posts,
        max(unique_authors) AS peak_minute_authors
    FROM brand_minutes FINAL
    GROUP BY brand, hour
);

DROP TABLE IF EXISTS brand_lang_minutes;

CREATE VIEW IF NOT EXISTS brand_lang_minutes AS
SELECT
    brand,
    minute,
    post_lang AS lang,
    n_posts AS posts,
    n_negative AS negative,
    n_unknown AS unknown,
    n_backfill AS backfill_posts
FROM
(
    SELECT
        brand,
        toStartOfMinute(created_at) AS minute,
        if(lang = '', 'und', lang) AS post_lang,
        count() AS n_posts,
        countIf(sentiment_label = 'negative') AS n_negative,
        countIf(sentiment_label = 'unknown') AS n_unknown,
        countIf(backfill = 1) AS n_backfill
    FROM posts FINAL
    GROUP BY brand, minute, post_lang
);
