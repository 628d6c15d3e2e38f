-- The care queue (0017) joined each complaint to its brand's latest post time with ANY INNER
-- JOIN. Current ClickHouse gives ANY INNER JOIN one row per key on both sides (semi-join), so
-- the view showed one complaint per brand there, all of them on 18.16. The right side has one
-- row per brand, so ALL INNER JOIN is the same join on both servers. Same columns as 0017.
DROP TABLE IF EXISTS care_queue;
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
ALL INNER JOIN
(
    SELECT brand, max(created_at) AS as_of FROM posts GROUP BY brand
) AS latest USING brand
WHERE created_at + 86400 >= as_of;
