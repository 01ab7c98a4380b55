--
-- Inputs found by fuzzing the purchase profile's serialised state
-- (test/fuzz): two valid times can be further apart than an int64 of
-- microseconds holds, and the differences wrapped to negative spans.
--
SET TimeZone = 'UTC';

-- the earliest and the latest valid times: spans and gaps are positive
SELECT round((p).span_days) AS span_days, round((p).mean_gap_days) AS mean_gap,
	   round((p).last_gap_days) AS last_gap, round((p).recent_mean_gap_days) AS recent_gap
  FROM (SELECT crm.purchase_profile(t, 1) AS p
		  FROM (VALUES ('4713-01-01 BC'::timestamptz), ('294276-12-31'::timestamptz)) v(t)) s;

-- recency in whole days, both ways round
SELECT crm.recency_days('4713-01-01 BC', '294276-12-31') AS forward,
	   crm.recency_days('294276-12-31', '4713-01-01 BC') AS backward,
	   crm.recency_days('4713-01-01 12:00 BC', '294276-12-31') AS half_day_later;

-- churn signals over the same far-apart times: age and silences positive
SELECT round(s.age_days) AS age, round(s.silence_days) AS silence,
	   round(s.engagement_silence_days) AS engagement_silence, s.status
  FROM (SELECT crm.purchase_profile(t, 1) AS p
		  FROM (VALUES ('4713-01-01 BC'::timestamptz), ('4713-01-02 BC'::timestamptz)) v(t)) q,
	   crm.churn_signal(q.p, '294276-12-31', 20, 0, 0, '4713-01-03 BC') s;
