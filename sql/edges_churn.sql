--
-- edges_churn: the churn functions (options, one client's signal, every
-- client's signals, repeat curve, cohorts, segment refresh, contact policy)
-- on NULL, empty, negative, zero, huge, NaN and infinite input and on
-- malformed jsonb options, row by row as docs/inputs.md tabulates them.
-- Everything runs in one transaction that is rolled back.
--
SET TimeZone = 'UTC';
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\i sql/include/edges.sql
BEGIN;
SELECT pg_temp.empty_crm();

-- crm.churn_options(options jsonb)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('null', $$SELECT crm.churn_options(NULL)$$),
	('empty object: the defaults', $$SELECT crm.churn_options('{}') = crm.churn_options()$$),
	('defaults', $$SELECT crm.churn_options('{}')$$),
	('empty array', $$SELECT crm.churn_options('[]')$$),
	('a number', $$SELECT crm.churn_options('1')$$),
	('a string', $$SELECT crm.churn_options('"window_days"')$$),
	('json null', $$SELECT crm.churn_options('null')$$),
	('unknown key', $$SELECT crm.churn_options('{"window_day": 90}')$$),
	('a string for a number', $$SELECT crm.churn_options('{"window_days": "90"}')$$),
	('a boolean for a number', $$SELECT crm.churn_options('{"window_days": true}')$$),
	('an array for a number', $$SELECT crm.churn_options('{"window_days": [90]}')$$),
	('an object for a number', $$SELECT crm.churn_options('{"window_days": {}}')$$),
	('null for a number', $$SELECT crm.churn_options('{"window_days": null}')$$),
	('negative', $$SELECT crm.churn_options('{"window_days": -1}')$$),
	('zero', $$SELECT crm.churn_options('{"window_days": 0}')$$),
	('zero where the bound is open', $$SELECT crm.churn_options('{"promo_share": 0}')$$),
	('huge', $$SELECT crm.churn_options('{"window_days": 1e300}')$$),
	('beyond float8', $$SELECT crm.churn_options('{"window_days": 1e400}')$$),
	('below float8', $$SELECT crm.churn_options('{"prior_gaps": 1e-400}')$$),
	('lapsed_p above slipping_p', $$SELECT crm.churn_options('{"lapsed_p": 0.5}')$$),
	('a key twice: the last wins', $$SELECT crm.churn_options('{"window_days": 90, "window_days": 10}') ->> 'window_days'$$),
	('population_gap_days null', $$SELECT crm.churn_options('{"population_gap_days": null}') ->> 'population_gap_days'$$),
	('population_gap_days zero', $$SELECT crm.churn_options('{"population_gap_days": 0}')$$),
	('population_gap_days huge', $$SELECT crm.churn_options('{"population_gap_days": 1e308}') ->> 'population_gap_days' = 1e308::text$$),
	('population_gap_days beyond float8', $$SELECT crm.churn_options('{"population_gap_days": 1e309}')$$),
	('population_offer_share null: measured', $$SELECT crm.churn_options('{"population_offer_share": null}') ->> 'population_offer_share'$$),
	('population_offer_share 0 and 1', $$SELECT crm.churn_options('{"population_offer_share": 0, "population_season_share": 1}') ->> 'population_season_share'$$),
	('population_offer_share negative', $$SELECT crm.churn_options('{"population_offer_share": -0.1}')$$),
	('population_season_share above 1', $$SELECT crm.churn_options('{"population_season_share": 1.5}')$$),
	('population_season_share a string', $$SELECT crm.churn_options('{"population_season_share": "0.5"}')$$),
	('season_months empty', $$SELECT crm.churn_options('{"season_months": []}') -> 'season_months'$$),
	('season_months repeated', $$SELECT crm.churn_options('{"season_months": [12, 12, 1]}') -> 'season_months'$$),
	('season_months 0', $$SELECT crm.churn_options('{"season_months": [0]}')$$),
	('season_months 13', $$SELECT crm.churn_options('{"season_months": [13]}')$$),
	('season_months 1.5', $$SELECT crm.churn_options('{"season_months": [1.5]}')$$),
	('season_months with null', $$SELECT crm.churn_options('{"season_months": [null]}')$$),
	('season_months nested', $$SELECT crm.churn_options('{"season_months": [[1]]}')$$),
	('season_months an object', $$SELECT crm.churn_options('{"season_months": {"1": true}}')$$)
) AS t(cell, q);

-- crm.churn_signal(profile, as_of, population_gap_days, recent_purchases,
-- previous_purchases, last_engagement, offers_since_last_purchase, options)
CREATE TEMP TABLE p AS
	SELECT crm.purchase_profile(t, 10::numeric) AS p
	  FROM (VALUES ('2024-01-01'::timestamptz), ('2024-02-01'), ('2024-03-15')) v(t);
-- hand-written profiles: prof(...) changes fields of a consistent one
CREATE FUNCTION pg_temp.prof(recent_gap float8 DEFAULT 30, gap_sd float8 DEFAULT 5,
							 offer_share float8 DEFAULT 0, months int[] DEFAULT NULL,
							 first timestamptz DEFAULT '2024-01-01', last timestamptz DEFAULT '2024-03-01',
							 purchases bigint DEFAULT 3, gaps int DEFAULT 2)
RETURNS crm.purchase_profile LANGUAGE sql AS $$
	SELECT ROW(first, last, purchases, purchases - 1, NULL, 30, 10, 10, NULL, NULL,
			   recent_gap, gap_sd, gaps, 0, offer_share, months, NULL)::crm.purchase_profile
$$;
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('signal', $$SELECT crm.churn_signal(p, '2025-01-01', 30) FROM p$$),
	('null profile', $$SELECT crm.churn_signal(NULL, '2025-01-01', 30)$$),
	('null as_of', $$SELECT crm.churn_signal(p, NULL, 30) FROM p$$),
	('null population gap', $$SELECT crm.churn_signal(p, '2025-01-01', NULL) FROM p$$),
	('null options', $$SELECT crm.churn_signal(p, '2025-01-01', 30, options => NULL) FROM p$$),
	('null counts and engagement: 0 and none', $$SELECT crm.churn_signal(p, '2025-01-01', 30, NULL, NULL, NULL, NULL) = crm.churn_signal(p, '2025-01-01', 30) FROM p$$),
	('negative population gap', $$SELECT crm.churn_signal(p, '2025-01-01', -1) FROM p$$),
	('negative recent purchases', $$SELECT crm.churn_signal(p, '2025-01-01', 30, -1) FROM p$$),
	('negative offers', $$SELECT crm.churn_signal(p, '2025-01-01', 30, 0, 0, NULL, -1) FROM p$$),
	('negative purchases after an offer', $$SELECT crm.churn_signal(p, '2025-01-01', 30, purchases_after_offer => -1) FROM p$$),
	('purchases after an offer beyond the window', $$SELECT crm.churn_signal(p, '2025-01-01', 30, purchases_after_offer => 4) FROM p$$),
	('null purchases after an offer: 0', $$SELECT crm.churn_signal(p, '2025-01-01', 30, purchases_after_offer => NULL) = crm.churn_signal(p, '2025-01-01', 30) FROM p$$),
	('population counts null: the fixed priors', $$SELECT crm.churn_signal(p, '2025-01-01', 30, population_counts => NULL) = crm.churn_signal(p, '2025-01-01', 30, options => '{"population_offer_share": 0.1, "population_season_share": 0.5}') FROM p$$),
	('population counts empty population: the fixed priors', $$SELECT crm.churn_signal(p, '2025-01-01', 30, population_counts => array_fill(0::bigint, ARRAY[16])) = crm.churn_signal(p, '2025-01-01', 30) FROM p$$),
	('population counts: the shares they give', $$SELECT bool_and(k.score = o.score AND k.conditions = o.conditions) AND bool_or(k.conditions <> d.conditions) FROM p, crm.churn_class_scores(p, '2025-01-01', 30, population_counts => ARRAY[40, 10, 20, 5, 3, 3, 3, 4, 3, 3, 4, 3, 3, 4, 3, 4]::bigint[]) k JOIN crm.churn_class_scores(p, '2025-01-01', 30, options => '{"population_offer_share": 0.25, "population_season_share": 0.525}') o USING (class) JOIN crm.churn_class_scores(p, '2025-01-01', 30) d USING (class)$$),
	('population counts: the option wins', $$SELECT crm.churn_signal(p, '2025-01-01', 30, options => '{"population_offer_share": 0.3}', population_counts => ARRAY[40, 10, 20, 5, 3, 3, 3, 4, 3, 3, 4, 3, 3, 4, 3, 4]::bigint[]) = crm.churn_signal(p, '2025-01-01', 30, options => '{"population_offer_share": 0.3, "population_season_share": 0.525}') FROM p$$),
	('population counts: 15 of them', $$SELECT crm.churn_signal(p, '2025-01-01', 30, population_counts => array_fill(0::bigint, ARRAY[15])) FROM p$$),
	('population counts with a null', $$SELECT crm.churn_signal(p, '2025-01-01', 30, population_counts => array_fill(NULL::bigint, ARRAY[16])) FROM p$$),
	('population counts negative', $$SELECT crm.churn_signal(p, '2025-01-01', 30, population_counts => array_fill(-1::bigint, ARRAY[16])) FROM p$$),
	('population counts inconsistent', $$SELECT crm.churn_signal(p, '2025-01-01', 30, population_counts => ARRAY[10, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::bigint[]) FROM p$$),
	('population counts huge', $$SELECT (crm.churn_signal(p, '2025-01-01', 30, population_counts => ARRAY[9223372036854775807, 9223372036854775807, 9223372036854775807, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::bigint[])).behaviour_class FROM p$$),
	('class scores: null profile, no rows', $$SELECT count(*) FROM crm.churn_class_scores(NULL, '2025-01-01', 30)$$),
	('class scores: null as_of, no rows', $$SELECT count(*) FROM p, crm.churn_class_scores(p.p, NULL, 30)$$),
	('class scores: the class and runner-up of churn_signal', $$SELECT (SELECT string_agg(k.class || ' ' || k.chosen, ', ' ORDER BY k.chosen) FROM crm.churn_class_scores(p.p, '2025-01-01', 30) k WHERE k.chosen <> '') = s.behaviour_class || ' class, ' || s.runner_up_class || ' runner-up' FROM p, crm.churn_signal(p.p, '2025-01-01', 30) s$$),
	('class scores: null options', $$SELECT count(*) FROM p, crm.churn_class_scores(p.p, '2025-01-01', 30, options => NULL)$$),
	('zero population gap', $$SELECT crm.churn_signal(p, '2025-01-01', 0) FROM p$$),
	('huge population gap', $$SELECT (crm.churn_signal(p, '2025-01-01', 1e300)).status FROM p$$),
	('tiny population gap', $$SELECT (crm.churn_signal(p, '2025-01-01', 1e-300)).status FROM p$$),
	('huge recent purchases', $$SELECT crm.churn_signal(p, '2025-01-01', 30, 9223372036854775807) FROM p$$),
	('huge offers: returned as given', $$SELECT (crm.churn_signal(p, '2025-01-01', 30, 0, 0, NULL, 9223372036854775807)).offers_since_last_purchase FROM p$$),
	('huge as_of: 294276 AD', $$SELECT (crm.churn_signal(p, '294276-12-31', 30)).age_days FROM p$$),
	('NaN population gap', $$SELECT crm.churn_signal(p, '2025-01-01', 'NaN') FROM p$$),
	('Infinity population gap', $$SELECT crm.churn_signal(p, '2025-01-01', 'Infinity') FROM p$$),
	('as_of infinity', $$SELECT crm.churn_signal(p, 'infinity', 30) FROM p$$),
	('as_of -infinity', $$SELECT crm.churn_signal(p, '-infinity', 30) FROM p$$),
	('last engagement infinity', $$SELECT crm.churn_signal(p, '2025-01-01', 30, 0, 0, 'infinity') FROM p$$),
	('last engagement after as_of', $$SELECT crm.churn_signal(p, '2025-01-01', 30, 0, 0, '2025-01-02') FROM p$$),
	('last purchase after as_of', $$SELECT crm.churn_signal(p, '2024-02-01', 30) FROM p$$),
	('options an array', $$SELECT crm.churn_signal(p, '2025-01-01', 30, options => '[]') FROM p$$),
	('options with an unknown key', $$SELECT crm.churn_signal(p, '2025-01-01', 30, options => '{"x": 1}') FROM p$$),
	('profile of nulls', $$SELECT crm.churn_signal(ROW(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)::crm.purchase_profile, '2025-01-01', 30)$$),
	('profile of zero purchases', $$SELECT crm.churn_signal(pg_temp.prof(purchases => 0, gaps => 0), '2025-01-01', 30)$$),
	('hand-written profile', $$SELECT (crm.churn_signal(pg_temp.prof(), '2025-01-01', 30)).status$$),
	('profile: NaN gap', $$SELECT crm.churn_signal(pg_temp.prof(recent_gap => 'NaN'), '2025-01-01', 30)$$),
	('profile: infinite gap', $$SELECT crm.churn_signal(pg_temp.prof(recent_gap => 'Infinity'), '2025-01-01', 30)$$),
	('profile: negative gap', $$SELECT crm.churn_signal(pg_temp.prof(recent_gap => -5), '2025-01-01', 30)$$),
	('profile: infinite gap spread', $$SELECT crm.churn_signal(pg_temp.prof(gap_sd => 'Infinity'), '2025-01-01', 30)$$),
	('profile: NaN offer share', $$SELECT crm.churn_signal(pg_temp.prof(offer_share => 'NaN'), '2025-01-01', 30)$$),
	('profile: offer share 2', $$SELECT crm.churn_signal(pg_temp.prof(offer_share => 2), '2025-01-01', 30)$$),
	('profile: negative month count', $$SELECT crm.churn_signal(pg_temp.prof(months => '{-1,1,1,1,0,0,0,0,0,0,0,0}'), '2025-01-01', 30)$$),
	('profile: more months than purchases', $$SELECT crm.churn_signal(pg_temp.prof(months => '{9,0,0,0,0,0,0,0,0,0,0,0}'), '2025-01-01', 30)$$),
	('profile: first purchase -infinity', $$SELECT crm.churn_signal(pg_temp.prof(first => '-infinity'), '2025-01-01', 30)$$),
	('profile: 4713 BC to 294276 AD', $$SELECT (crm.churn_signal(pg_temp.prof(first => '4713-01-01 BC', last => '294276-01-01'), '294276-12-01', 30)).age_days$$)
) AS t(cell, q);

-- the functions over crm.orders, first on empty tables
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('churn_signals: empty', $$SELECT count(*) FROM crm.churn_signals('2025-01-01')$$),
	('repeat_curve: empty', $$SELECT count(*) FROM crm.repeat_curve('2025-01-01')$$),
	('cohort_retention: empty', $$SELECT count(*) FROM crm.cohort_retention('2025-01-01')$$),
	('contact_check: empty (no client 1)', $$SELECT crm.contact_check(1, 'email', '2025-01-01')$$),
	('can_contact: empty (no client 1)', $$SELECT crm.can_contact(1, 'email', '2025-01-01')$$)
) AS t(cell, q);
SELECT pg_temp.w($$SELECT crm.refresh_segments('2025-01-01')$$) AS "refresh_segments: empty";

-- Ann buys three times and has an email consent, Bob buys once, Cy never
INSERT INTO crm.clients (client_id, first_name) VALUES (1, 'Ann'), (2, 'Bob'), (3, 'Cy');
INSERT INTO crm.consents (client_id, channel, changed_at, granted) VALUES (1, 'email', '2024-01-01', true);
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount) VALUES
	(1, 1, '2024-01-01', 'web', 'paid', 100, 100), (1, 2, '2024-02-01', 'web', 'paid', 50, 50),
	(1, 3, '2024-03-01', 'web', 'paid', 70, 70), (2, 4, '2024-01-15', 'web', 'paid', 10, 10);

-- crm.churn_signals(as_of, options)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('signals', $$SELECT string_agg(format('%s %s %s', client_id, status, behaviour_class), '; ' ORDER BY client_id) FROM crm.churn_signals('2025-01-01')$$),
	('null as_of', $$SELECT count(*) FROM crm.churn_signals(NULL)$$),
	('null options', $$SELECT count(*) FROM crm.churn_signals('2025-01-01', NULL)$$),
	('as_of before every purchase', $$SELECT count(*) FROM crm.churn_signals('2023-01-01')$$),
	('huge: 294276 AD', $$SELECT string_agg(status, ',' ORDER BY client_id) FROM crm.churn_signals('294276-12-31')$$),
	('as_of 4713 BC', $$SELECT count(*) FROM crm.churn_signals('4713-01-01 BC')$$),
	('infinity', $$SELECT count(*) FROM crm.churn_signals('infinity')$$),
	('-infinity', $$SELECT count(*) FROM crm.churn_signals('-infinity')$$),
	('options an array', $$SELECT count(*) FROM crm.churn_signals('2025-01-01', '[]')$$),
	('options: unknown key', $$SELECT count(*) FROM crm.churn_signals('2025-01-01', '{"x": 1}')$$),
	('options: population gap given', $$SELECT string_agg(population_gap_days::text, ',') FROM crm.churn_signals('2025-01-01', '{"population_gap_days": 1e308}')$$),
	('options: window beyond float8', $$SELECT count(*) FROM crm.churn_signals('2025-01-01', '{"window_days": 1e400}')$$)
) AS t(cell, q);

-- crm.repeat_curve(as_of, since) and crm.cohort_retention(as_of, period)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('repeat_curve', $$SELECT string_agg(format('%s %s %s', order_number, clients, next_clients), '; ' ORDER BY order_number) FROM crm.repeat_curve('2025-01-01')$$),
	('repeat_curve: null', $$SELECT count(*) FROM crm.repeat_curve(NULL)$$),
	('repeat_curve: null since', $$SELECT count(*) FROM crm.repeat_curve('2025-01-01', NULL)$$),
	('repeat_curve: huge', $$SELECT count(*) FROM crm.repeat_curve('294276-12-31')$$),
	('repeat_curve: infinity', $$SELECT count(*) FROM crm.repeat_curve('infinity')$$),
	('repeat_curve: -infinity', $$SELECT count(*) FROM crm.repeat_curve('-infinity')$$),
	('repeat_curve: since infinity', $$SELECT count(*) FROM crm.repeat_curve('2025-01-01', 'infinity')$$),
	('cohort_retention', $$SELECT count(*) FROM crm.cohort_retention('2025-01-01')$$),
	('cohort_retention: null', $$SELECT count(*) FROM crm.cohort_retention(NULL)$$),
	('cohort_retention: null period', $$SELECT count(*) FROM crm.cohort_retention('2025-01-01', NULL)$$),
	('cohort_retention: empty period', $$SELECT count(*) FROM crm.cohort_retention('2025-01-01', '')$$),
	('cohort_retention: day', $$SELECT count(*) FROM crm.cohort_retention('2025-01-01', 'day')$$),
	('cohort_retention: infinity', $$SELECT count(*) FROM crm.cohort_retention('infinity', 'week')$$),
	('cohort_retention: -infinity', $$SELECT count(*) FROM crm.cohort_retention('-infinity', 'quarter')$$)
) AS t(cell, q);

-- crm.contact_check(client_id, channel, at) and crm.can_contact
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('consent', $$SELECT crm.contact_check(1, 'email', '2025-01-01')$$),
	('no consent row', $$SELECT crm.contact_check(2, 'email', '2025-01-01')$$),
	('null client', $$SELECT crm.contact_check(NULL, 'email', '2025-01-01')$$),
	('null channel', $$SELECT crm.contact_check(1, NULL, '2025-01-01')$$),
	('null at', $$SELECT crm.contact_check(1, 'email', NULL)$$),
	('empty channel', $$SELECT crm.contact_check(1, '', '2025-01-01')$$),
	('channel in capitals', $$SELECT crm.contact_check(1, 'EMAIL', '2025-01-01')$$),
	('negative client', $$SELECT crm.contact_check(-1, 'email', '2025-01-01')$$),
	('zero client', $$SELECT crm.contact_check(0, 'email', '2025-01-01')$$),
	('huge client', $$SELECT crm.contact_check(9223372036854775807, 'email', '2025-01-01')$$),
	('at infinity', $$SELECT crm.contact_check(1, 'email', 'infinity')$$),
	('at -infinity', $$SELECT crm.contact_check(1, 'email', '-infinity')$$),
	('can_contact', $$SELECT crm.can_contact(1, 'email', '2025-01-01')$$),
	('can_contact: null', $$SELECT crm.can_contact(1, NULL)$$),
	('can_contact: null client', $$SELECT crm.can_contact(NULL, 'sms')$$),
	('can_contact: null at', $$SELECT crm.can_contact(1, 'sms', NULL)$$),
	('can_contact: no consent row', $$SELECT crm.can_contact(2, 'email', '2025-01-01')$$),
	('can_contact: empty channel', $$SELECT crm.can_contact(1, '')$$),
	('can_contact: negative client', $$SELECT crm.can_contact(-1, 'sms')$$),
	('can_contact: zero client', $$SELECT crm.can_contact(0, 'sms')$$),
	('can_contact: huge client', $$SELECT crm.can_contact(9223372036854775807, 'sms')$$),
	('can_contact: at infinity', $$SELECT crm.can_contact(1, 'email', 'infinity')$$),
	('can_contact: at -infinity', $$SELECT crm.can_contact(1, 'email', '-infinity')$$)
) AS t(cell, q);

-- crm.refresh_segments(as_of, options, map_name, notify_limit) writes:
-- each call shows the tables it changed
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('null as_of', $$SELECT crm.refresh_segments(NULL)$$),
	('null options', $$SELECT crm.refresh_segments('2025-01-01', NULL)$$),
	('null map', $$SELECT crm.refresh_segments('2025-01-01', '{}', NULL)$$),
	('null notify_limit', $$SELECT crm.refresh_segments('2025-01-01', '{}', 'rfm11', NULL)$$),
	('infinity', $$SELECT crm.refresh_segments('infinity')$$),
	('-infinity', $$SELECT crm.refresh_segments('-infinity')$$),
	('options an array', $$SELECT crm.refresh_segments('2025-01-01', '[]')$$),
	('options: unknown key', $$SELECT crm.refresh_segments('2025-01-01', '{"x": 1}')$$),
	('empty map name', $$SELECT crm.refresh_segments('2025-01-01', '{}', '')$$),
	('negative notify_limit', $$SELECT crm.refresh_segments('2025-01-01', '{}', 'rfm11', -1)$$),
	('zero notify_limit: one summary notification', $$SELECT crm.refresh_segments('2025-01-01', '{}', 'rfm11', 0)$$),
	('the same as_of again: nothing changes', $$SELECT crm.refresh_segments('2025-01-01', '{}', 'rfm11', 2147483647)$$),
	('an earlier as_of', $$SELECT crm.refresh_segments('2024-12-31')$$)
) AS t(cell, q);
-- Cy's first purchase: a far-future refresh is refused; made on purpose,
-- it records a change, and no refresh before it is possible any more
-- until crm.rewind_segments(to_as_of) takes it back
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount) VALUES
	(3, 5, '2025-06-01', 'web', 'paid', 20, 20);
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('null allow_future', $$SELECT crm.refresh_segments('2025-01-01', '{}', 'rfm11', 1000, NULL)$$),
	('huge: 294276 AD', $$SELECT crm.refresh_segments('294276-12-31', '{}', 'rfm11', 2147483647)$$),
	('huge: 294276 AD, on purpose', $$SELECT crm.refresh_segments('294276-12-31', '{}', 'rfm11', 2147483647, true)$$),
	('a later as_of than any real one', $$SELECT crm.refresh_segments('2026-01-01')$$),
	('rewind: null', $$SELECT crm.rewind_segments(NULL)$$),
	('rewind: to infinity: nothing to take back', $$SELECT crm.rewind_segments('infinity')$$),
	('rewind to 2026-01-01', $$SELECT (w.to_as_of, w.refreshes, w.clients, w.transitions) FROM crm.rewind_segments('2026-01-01') w$$),
	('rewind again: nothing to take back', $$SELECT crm.rewind_segments('2026-01-01')$$),
	('a later as_of than any real one, after the rewind', $$SELECT crm.refresh_segments('2026-01-01')$$),
	('rewind to -infinity: every refresh', $$SELECT (w.to_as_of, w.refreshes, w.clients, w.transitions) FROM crm.rewind_segments('-infinity') w$$)
) AS t(cell, q);

ROLLBACK;
SELECT pg_temp.sequences_unchanged();
