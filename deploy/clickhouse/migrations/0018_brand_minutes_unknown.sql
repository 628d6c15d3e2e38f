-- Issue 21: posts in a language without a sentiment model are labelled 'unknown' (posts.
-- sentiment_label is a String, so it needs no change). brand_minutes counts them apart from
-- neutral; old rows read 0. They carry no sentiment evidence: brand_hours_exact now derives the
-- negative share and mean sentiment over posts - unknown (a burst of posts in an unsupported
-- language must not look like a drop in negativity). Dropped and recreated: a view has no ALTER
-- on 18.16, and it holds no data.
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
