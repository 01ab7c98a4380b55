-- churn signals, statuses and behavioural classes on hand-built clients
SET TimeZone = 'UTC';
BEGIN;
\i sql/include/try.sql
INSERT INTO crm.clients (client_id, first_name) SELECT g, 'c' || g FROM generate_series(9001, 9014) g;
-- purchases: (client, days before 2025-01-01, promo)
CREATE TEMP TABLE buys (client_id bigint, days_ago numeric, promo boolean DEFAULT false);
INSERT INTO buys (client_id, days_ago)
	      SELECT 9001, 10                                           -- new: one purchase
	UNION ALL SELECT 9002, 200                                      -- one purchase long ago
	UNION ALL SELECT 9003, g FROM generate_series(3, 300, 7) g      -- loyal: weekly
	UNION ALL SELECT 9004, g FROM generate_series(4, 60, 14) g      -- promising
	UNION ALL SELECT 9005, g FROM generate_series(120, 500, 7) g    -- at risk: weekly ...
	UNION ALL SELECT 9005, g FROM generate_series(10, 119, 36) g    -- ... then monthly
	UNION ALL SELECT 9006, s + d FROM generate_series(10, 400, 120) s,
	                                   generate_series(0, 35, 5) d  -- drifting: spells and absences
	UNION ALL SELECT 9007, g FROM generate_series(100, 500, 20) g   -- about to lose
	UNION ALL SELECT 9009, g FROM generate_series(20, 220, 50) g    -- promo-dependent (below)
	UNION ALL SELECT 9010, g FROM generate_series(400, 700, 25) g   -- lost, offers ignored
	UNION ALL SELECT 9011, g FROM generate_series(400, 700, 25) g   -- gone, no offer yet
	UNION ALL SELECT 9012, 40 UNION ALL SELECT 9012, 40 UNION ALL SELECT 9012, 80  -- same day
	UNION ALL SELECT 9013, g FROM generate_series(24, 324, 20) g    -- slipping
	UNION ALL SELECT 9014, g FROM generate_series(35, 335, 20) g;   -- lapsed
UPDATE buys SET promo = true WHERE client_id = 9009;
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount, promo_used)
SELECT client_id, '2025-01-01'::timestamptz - days_ago * interval '1 day', 'web', 'paid', 10, 10, promo
  FROM buys;
-- seasonal sleeper: only in December, April and July
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount)
SELECT 9008, t, 'store', 'paid', 20, 20
  FROM unnest('{2022-12-10, 2022-12-20, 2023-04-05, 2023-07-01, 2023-12-15, 2024-04-02, 2024-07-10, 2024-12-12}'::timestamptz[]) t;
-- a cancelled order and one after as_of do not count
INSERT INTO crm.orders (client_id, ordered_at, channel, status, gross_amount, net_amount) VALUES
	(9001, '2024-12-30', 'web', 'cancelled', 5, 5),
	(9001, '2025-02-01', 'web', 'paid', 5, 5);
-- win-back offers to 9010 (none to 9011), engagement of 9003
INSERT INTO crm.interactions (client_id, occurred_at, channel, kind, direction, campaign) VALUES
	(9010, '2024-03-01', 'email', 'email', 'outbound', 'winback_1'),
	(9010, '2024-06-01', 'email', 'email', 'outbound', 'winback_2'),
	(9010, '2025-03-01', 'email', 'email', 'outbound', 'after_as_of'),
	(9003, '2024-12-20', 'email', 'campaign_open', 'inbound', 'newsletter'),
	(9003, '2024-12-21 12:00', 'web', 'visit', 'inbound', NULL),
	(9003, '2024-12-30', 'store', 'sale', 'inbound', NULL);

SELECT client_id, purchases, round(age_days::numeric, 1) AS age, round(silence_days::numeric, 1) AS silence,
	   round(own_gap_days::numeric, 1) AS own_gap, round(expected_gap_days::numeric, 1) AS expected,
	   round(gap_cv::numeric, 2) AS cv, round(overdue_ratio::numeric, 2) AS overdue,
	   round(p_gap::numeric, 4) AS p_gap, status, behaviour_class
  FROM crm.churn_signals('2025-01-01', '{"population_gap_days": 20}')
 WHERE client_id > 9000 ORDER BY client_id;

SELECT client_id, recent_purchases, previous_purchases, round(purchase_trend::numeric, 2) AS purchase_trend,
	   recent_spend, previous_spend, round(spend_trend::numeric, 2) AS spend_trend,
	   last_engagement, round(engagement_silence_days::numeric, 1) AS engagement_silence,
	   offers_since_last_purchase AS offers, round(offer_share::numeric, 2) AS offer_share,
	   round(season_share::numeric, 2) AS season_share
  FROM crm.churn_signals('2025-01-01', '{"population_gap_days": 20}')
 WHERE client_id > 9000 ORDER BY client_id;

-- the population gap: the geometric mean of the recent mean gaps (at least a day)
SELECT abs((SELECT DISTINCT population_gap_days FROM crm.churn_signals('2025-01-01'))
		   / (SELECT exp(avg(ln(greatest((profile).recent_mean_gap_days, 1))))
				FROM crm.client_profiles('2025-01-01')
			   WHERE (profile).recent_mean_gap_days IS NOT NULL) - 1) < 1e-12 AS population_is_geometric_mean,
	   round((SELECT DISTINCT population_gap_days FROM crm.churn_signals('2025-01-01'))::numeric, 3) AS population_gap;

-- shrinkage: one gap is pulled toward the population, many gaps much less
SELECT round(expected_gap_days::numeric, 2) AS expected
  FROM crm.churn_signals('2025-01-01', '{"population_gap_days": 20}') WHERE client_id = 9004;
SELECT round(expected_gap_days::numeric, 2) AS expected_without_prior
  FROM crm.churn_signals('2025-01-01', '{"population_gap_days": 20, "prior_gaps": 0}') WHERE client_id = 9004;

-- thresholds are options: with a longer lost_days 9010 is no longer lost
SELECT status, behaviour_class
  FROM crm.churn_signals('2025-01-01', '{"population_gap_days": 20, "lost_days": 1000, "lost_overdue": 100}')
 WHERE client_id = 9010;

-- the per-client function: a purchase after as_of is an error
SELECT pg_temp.try($$SELECT (crm.churn_signal(profile, '2025-01-01', 20)).status
  FROM crm.client_profiles('2025-03-01') WHERE client_id = 9001$$);
SELECT crm.churn_signal(NULL, '2025-01-01', 20) IS NULL AS null_profile;

-- errors
SELECT pg_temp.try($$SELECT crm.churn_options('{"lost_dayz": 3}')$$);
SELECT pg_temp.try($$SELECT crm.churn_options('{"slipping_p": 2}')$$);
SELECT pg_temp.try($$SELECT crm.churn_options('{"slipping_p": 0.01, "lapsed_p": 0.05}')$$);
SELECT pg_temp.try($$SELECT crm.churn_options('{"season_months": [0]}')$$);
SELECT pg_temp.try($$SELECT crm.churn_options('{"window_days": "x"}')$$);
SELECT pg_temp.try($$SELECT crm.churn_options('[1]')$$);
SELECT pg_temp.try($$SELECT crm.churn_options('{"population_gap_days": -1}')$$);
SELECT pg_temp.try($$SELECT * FROM crm.churn_signals('infinity')$$);
SELECT pg_temp.try($$SELECT crm.churn_signal(p, '2025-01-01', 0) FROM crm.client_profiles('2025-01-01') p(c, p) LIMIT 1$$);
SELECT pg_temp.try($$SELECT crm.churn_signal(p, '2025-01-01', 20, 1000) FROM crm.client_profiles('2025-01-01') p(c, p) LIMIT 1$$);
SELECT crm.churn_options('{"lost_days": 180, "season_months": [12, 1]}') ->> 'lost_days' AS lost_days,
	   crm.churn_options('{"season_months": [12, 1]}') -> 'season_months' AS season_months;

-- repeat curve and cohorts of these clients
SELECT * FROM crm.repeat_curve('2025-01-01', '2022-01-01') WHERE order_number <= 4 OR order_number >= 46;
SELECT cohort, period_number, cohort_clients, active_clients, round(retention::numeric, 3) AS retention
  FROM crm.cohort_retention('2025-01-01', 'quarter') WHERE cohort >= '2024-07-01';
SELECT pg_temp.try($$SELECT * FROM crm.cohort_retention('2025-01-01', 'day')$$);

-- the classifier beside the RFM maps
SELECT priority, class, description FROM crm.behaviour_classes ORDER BY priority;
ROLLBACK;
