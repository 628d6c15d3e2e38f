-- Issue 18: an alert label also records the alert minute's volume ratio (posts over expected
-- posts), the false alarm's volume shape (detectors.feedback: the raise and the tolerated share
-- apply only to minutes whose recent smoothed ratio reaches half the false alarms' own, at
-- least 1.5; a crisis's first minutes at 1-2x the usual volume meet the levels as built).
-- Old rows read 0: not recorded, the widest pattern the bounds allow.
ALTER TABLE alert_feedback ADD COLUMN volume_ratio Float32 DEFAULT 0 AFTER mean_sentiment;
