--
-- crm.purchase_profile: the per-client purchase profile aggregate.
--
SET TimeZone = 'UTC';
SET extra_float_digits = 0;

CREATE TEMP TABLE buys (
	client_id	integer,
	t			timestamptz,
	amount		numeric,
	offer		boolean
);
-- client 1: four purchases, two at the first instant; gaps 0, 10, 20 days
-- client 2: one purchase
-- client 3: identical purchases (same time, same amount)
-- client 4: zero spend
-- client 5: only rows with a NULL time or amount: no purchase at all
-- client 6: a NULL offer counts as no offer
INSERT INTO buys VALUES
	(1, '2024-01-31', 30.25, NULL),
	(1, '2024-01-01', 10.5, true),
	(1, '2024-01-11', 20, false),
	(1, '2024-01-01', 1, false),
	(2, '2024-03-01 12:00', 5, false),
	(3, '2024-02-01', 7, true),
	(3, '2024-02-01', 7, true),
	(3, '2024-02-01', 7, true),
	(4, '2024-01-01', 0, false),
	(4, '2024-01-04', 0.00, false),
	(5, NULL, 3, true),
	(5, '2024-01-01', NULL, true),
	(6, '2024-01-01', 2.125, NULL),
	(6, '2024-01-03', 1, true);

SELECT client_id, (p).first_purchase, (p).last_purchase, (p).purchases,
	   (p).repeat_purchases AS repeats, (p).span_days AS span,
	   (p).total_spend AS total, (p).mean_spend AS mean,
	   (p).repeat_mean_spend AS repeat_mean
  FROM (SELECT client_id, crm.purchase_profile(t, amount, offer) AS p
		  FROM buys GROUP BY client_id) s
 ORDER BY client_id;

SELECT client_id, (p).mean_gap_days AS mean_gap, (p).last_gap_days AS last_gap,
	   (p).recent_mean_gap_days AS recent_gap, (p).gap_sd_days AS gap_sd,
	   (p).gap_window, (p).offer_purchases AS offers, (p).offer_share
  FROM (SELECT client_id, crm.purchase_profile(t, amount, offer) AS p
		  FROM buys GROUP BY client_id) s
 ORDER BY client_id;

-- the two-argument form: no offer information
SELECT crm.purchase_profile(t, amount) FROM buys WHERE client_id = 1;

-- no rows, and only NULL rows: NULL
SELECT crm.purchase_profile(t, amount, offer) IS NULL AS no_rows FROM buys WHERE false;
SELECT crm.purchase_profile(t, amount, offer) IS NULL AS null_rows FROM buys WHERE client_id = 5;

-- the input order does not matter: every permutation of client 1 agrees
SELECT count(DISTINCT p::text) AS distinct_profiles
  FROM (SELECT (SELECT crm.purchase_profile(t, amount, offer)
				  FROM (SELECT * FROM buys WHERE client_id = 1
						 ORDER BY md5(t::text || amount::text || seed::text)) x) AS p
		  FROM generate_series(1, 24) seed) s;

-- amounts: exact totals, the largest display scale, rounding beyond six decimals
SELECT (crm.purchase_profile(t, a)).total_spend
  FROM (VALUES ('2024-01-01'::timestamptz, 0.1), ('2024-01-02', 0.2), ('2024-01-03', 0.3)) v(t, a);
SELECT (crm.purchase_profile(t, a)).total_spend
  FROM (VALUES ('2024-01-01'::timestamptz, 1.0000004), ('2024-01-02', 1.0000005),
			   ('2024-01-03', -0.0000005)) v(t, a);
SELECT (crm.purchase_profile(t, a)).total_spend
  FROM (VALUES ('2024-01-01'::timestamptz, 99999999999999999999.99),
			   ('2024-01-02', 99999999999999999999.99)) v(t, a);
-- a negative amount (a correction) is summed like any other
SELECT (crm.purchase_profile(t, a)).total_spend
  FROM (VALUES ('2024-01-01'::timestamptz, 10), ('2024-01-02', -2.5)) v(t, a);

-- more purchases than the gap window (16): the gap mean is over all gaps,
-- the spread over the 15 most recent; compare with window functions
CREATE TEMP TABLE many AS
SELECT '2024-01-01'::timestamptz + make_interval(days => i * 3 + (i * i) % 3, hours => i % 5) AS t,
	   (i % 7)::numeric AS amount
  FROM generate_series(1, 40) i
 ORDER BY md5(i::text);
SELECT (p).purchases, (p).gap_window, round((p).mean_gap_days::numeric, 6) AS mean_gap,
	   round((p).recent_mean_gap_days::numeric, 6) AS recent_gap,
	   round((p).gap_sd_days::numeric, 6) AS gap_sd
  FROM (SELECT crm.purchase_profile(t, amount) AS p FROM many) s;
WITH g AS (
	SELECT t, extract(epoch FROM t - lag(t) OVER (ORDER BY t)) / 86400 AS gap FROM many),
recent AS (
	SELECT gap FROM g WHERE gap IS NOT NULL ORDER BY t DESC LIMIT 15)
SELECT count(*) + 1 AS purchases, round(avg(gap), 6) AS mean_gap,
	   (SELECT round(avg(gap), 6) FROM recent) AS recent_gap,
	   (SELECT round(stddev_samp(gap), 6) FROM recent) AS gap_sd
  FROM g WHERE gap IS NOT NULL;
-- with at most 16 purchases the spread is over all gaps
SELECT round((crm.purchase_profile(t, amount)).gap_sd_days::numeric, 6) AS gap_sd,
	   (SELECT round(stddev_samp(gap), 6)
		  FROM (SELECT extract(epoch FROM t - lag(t) OVER (ORDER BY t)) / 86400 AS gap
				  FROM (SELECT t FROM many ORDER BY t LIMIT 16) f) g) AS window_sd
  FROM (SELECT * FROM many ORDER BY t LIMIT 16) f;

-- purchases by calendar month in UTC, whatever the session's time zone;
-- the peak share of three consecutive months wraps around the year end
SET TimeZone = 'America/New_York';
SELECT (p).month_purchases, (p).peak_quarter_share
  FROM (SELECT crm.purchase_profile(t, 1) AS p
		  FROM (VALUES ('2024-01-31 23:30-05'::timestamptz),		-- February in UTC
					   ('2023-12-15 12:00+00'), ('1999-12-31 23:00+00'),
					   ('2024-01-10 00:00+00'), ('2024-07-01 00:00+00')) v(t)) x;
SET TimeZone = 'UTC';

-- as a window function: the running profile
SELECT t::date, (p).purchases, (p).total_spend, (p).mean_gap_days, (p).gap_sd_days
  FROM (SELECT t, crm.purchase_profile(t, amount, offer) OVER (ORDER BY t, amount) AS p
		  FROM buys WHERE client_id = 1) s
 ORDER BY t, (p).purchases;

-- errors
SELECT crm.purchase_profile(t, a) FROM (VALUES ('infinity'::timestamptz, 1::numeric)) v(t, a);
SELECT crm.purchase_profile(t, a) FROM (VALUES (now(), 'NaN'::numeric)) v(t, a);
SELECT crm.purchase_profile(t, a) FROM (VALUES (now(), 'Infinity'::numeric)) v(t, a);
SELECT crm.purchase_profile(t, a) FROM (VALUES (now(), 1e24)) v(t, a);

-- recency in whole days, rounded down
SELECT crm.recency_days('2024-01-01 12:00', '2024-01-11 11:59') AS almost_ten,
	   crm.recency_days('2024-01-01 12:00', '2024-01-11 12:00') AS ten,
	   crm.recency_days('2024-01-02', '2024-01-01 12:00') AS future;
SELECT crm.recency_days('-infinity', '2024-01-01');

-- the state is small and fixed
SELECT crm.purchase_profile_state_size() AS state_bytes,
	   (SELECT aggtransspace FROM pg_aggregate
		 WHERE aggfnoid = 'crm.purchase_profile(timestamptz, numeric, boolean)'::regprocedure) AS sspace;

-- the state as bytes (crm.purchase_profile_state) and back
-- (crm.purchase_profile_from_state): the profile itself, for every client
-- (short and long histories, offers), in one piece or combined in parallel
SELECT count(*) AS clients,
	   count(*) FILTER (WHERE crm.purchase_profile_from_state(s) IS NOT DISTINCT FROM p) AS same
  FROM (SELECT client_id, crm.purchase_profile_state(t, amount, offer) AS s,
			   crm.purchase_profile(t, amount, offer) AS p
		  FROM buys GROUP BY client_id) x;
-- the bytes: the fixed part (123 bytes, the version first), 8 per window time
SELECT get_byte(s, 0) AS version, length(s) AS bytes,
	   (crm.purchase_profile_from_state(s)).purchases
  FROM (SELECT crm.purchase_profile_state(t, 1, false) AS s
		  FROM generate_series(timestamptz '2024-01-01', '2024-01-03', '1 day') t) x;
-- no row: NULL; NULL in, NULL out
SELECT crm.purchase_profile_state(t, 1, false) IS NULL AS empty,
	   crm.purchase_profile_from_state(NULL) IS NULL AS null_in
  FROM generate_series(timestamptz '2024-01-01', '2023-01-01', '1 day') t;
-- bytes that are not a state: an error saying what is wrong
SELECT crm.purchase_profile_from_state('\x03'::bytea);
SELECT crm.purchase_profile_from_state('\x01'::bytea);
SELECT crm.purchase_profile_from_state(set_byte(s, 8, 0))
  FROM (SELECT crm.purchase_profile_state(t, 1, false) AS s
		  FROM generate_series(timestamptz '2024-01-01', '2024-01-03', '1 day') t) x;
SELECT crm.purchase_profile_from_state(s || '\x00'::bytea)
  FROM (SELECT crm.purchase_profile_state(t, 1, false) AS s
		  FROM generate_series(timestamptz '2024-01-01', '2024-01-03', '1 day') t) x;
-- with window bounds: the same profile, then each window's purchases and
-- spend (n int8, spend in millionths int16, scale one byte: 25 bytes each),
-- as count(*) and sum(amount) FILTER give them; version byte 2
CREATE TEMP VIEW windowed AS
SELECT client_id, s, length(s) AS len,
	   ('x' || encode(substring(s FROM length(s) - 49 FOR 8), 'hex'))::bit(64)::bigint AS recent_n,
	   ('x' || encode(substring(s FROM length(s) - 33 FOR 8), 'hex'))::bit(64)::bigint AS recent_micro,
	   get_byte(s, length(s) - 26) AS recent_scale,
	   ('x' || encode(substring(s FROM length(s) - 24 FOR 8), 'hex'))::bit(64)::bigint AS previous_n,
	   ('x' || encode(substring(s FROM length(s) - 8 FOR 8), 'hex'))::bit(64)::bigint AS previous_micro,
	   get_byte(s, length(s) - 1) AS previous_scale,
	   p, recent_n_sql, recent_sql, previous_n_sql, previous_sql
  FROM (SELECT client_id,
			   crm.purchase_profile_state(t, amount, offer, '2024-01-10', '2024-01-01') AS s,
			   crm.purchase_profile(t, amount, offer) AS p,
			   count(*) FILTER (WHERE t > '2024-01-10') AS recent_n_sql,
			   sum(amount) FILTER (WHERE t > '2024-01-10') AS recent_sql,
			   count(*) FILTER (WHERE t > '2024-01-01' AND t <= '2024-01-10') AS previous_n_sql,
			   sum(amount) FILTER (WHERE t > '2024-01-01' AND t <= '2024-01-10') AS previous_sql
		  FROM buys WHERE t IS NOT NULL AND amount IS NOT NULL GROUP BY client_id) x;
SELECT client_id, get_byte(s, 0) AS version, len, recent_n, recent_micro, recent_scale,
	   previous_n, previous_micro, previous_scale,
	   recent_n = recent_n_sql AND previous_n = previous_n_sql
		   AND recent_micro = coalesce(recent_sql, 0) * 1000000
		   AND previous_micro = coalesce(previous_sql, 0) * 1000000 AS as_sql,
	   crm.purchase_profile_from_state(s) IS NOT DISTINCT FROM p AS same_profile
  FROM windowed ORDER BY client_id;
-- NULL bounds: no window takes a purchase (as t > NULL in SQL)
SELECT ('x' || encode(substring(s FROM length(s) - 49 FOR 8), 'hex'))::bit(64)::bigint AS recent_n,
	   ('x' || encode(substring(s FROM length(s) - 24 FOR 8), 'hex'))::bit(64)::bigint AS previous_n
  FROM (SELECT crm.purchase_profile_state(t, amount, offer, NULL, '2023-01-01') AS s
		  FROM buys WHERE client_id = 1) x;
-- windows that cannot be: more purchases than the profile's, a spend in
-- an empty window, a scale above the profile's; and cut short
SELECT crm.purchase_profile_from_state(overlay(s PLACING '\x00000000000000ff'::bytea FROM len - 49))
  FROM windowed WHERE client_id = 1;
SELECT crm.purchase_profile_from_state(overlay(s PLACING '\x01'::bytea FROM len - 16))
  FROM windowed WHERE client_id = 2;
SELECT crm.purchase_profile_from_state(set_byte(s, len - 26, 7))
  FROM windowed WHERE client_id = 1;
SELECT crm.purchase_profile_from_state(substring(s FROM 1 FOR len - 1))
  FROM windowed WHERE client_id = 1;
DO $$
BEGIN
	PERFORM crm.purchase_profile_from_state('\x'::bytea);
EXCEPTION WHEN invalid_binary_representation THEN
	RAISE NOTICE 'SQLSTATE %: %', SQLSTATE, SQLERRM;
END $$;
