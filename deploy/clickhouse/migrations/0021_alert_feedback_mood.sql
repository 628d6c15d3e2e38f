-- Issue 18: an alert label also records the alert minute's mean sentiment, what the false alarm
-- looked like (detectors.feedback: the raise and the tolerated share apply only to minutes whose
-- smoothed mood is at or above the false alarms' own, a one-sided negative turn meets the levels
-- as built). Old rows read -1: not recorded, the widest pattern the bounds allow.
ALTER TABLE alert_feedback ADD COLUMN mean_sentiment Float32 DEFAULT -1 AFTER negative_share;
