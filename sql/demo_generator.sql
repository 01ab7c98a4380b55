--
-- The demo data generator: arguments and errors, determinism, the rows it
-- writes, and the behaviour of each archetype.
--
-- the generator is the extension crm_demo
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS crm_demo;
RESET client_min_messages;
SET TimeZone = 'UTC';
-- TRUNCATE ... CASCADE lists every table it reaches, also other parts' tables
SET client_min_messages = warning;

-- the SQLSTATE and message of a statement that fails
CREATE FUNCTION pg_temp.error_of(sql text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- md5 of the ordered contents of every table the generator fills
CREATE FUNCTION pg_temp.demo_digest() RETURNS TABLE (table_name text, digest text)
LANGUAGE sql AS $$
	SELECT 'clients', md5(string_agg(x::text, '|' ORDER BY x.client_id)) FROM crm.clients x
	UNION ALL SELECT 'demo_clients', md5(string_agg(x::text, '|' ORDER BY x.client_id)) FROM crm.demo_clients x
	UNION ALL SELECT 'demo_parameters', md5(string_agg(x::text, '|')) FROM crm.demo_parameters x
	UNION ALL SELECT 'consents', md5(string_agg(x::text, '|' ORDER BY x.client_id, x.channel, x.changed_at)) FROM crm.consents x
	UNION ALL SELECT 'orders', md5(string_agg(x::text, '|' ORDER BY x.client_id, x.order_id)) FROM crm.orders x
	UNION ALL SELECT 'order_lines', md5(string_agg(x::text, '|' ORDER BY x.client_id, x.order_id, x.line_no)) FROM crm.order_lines x
	UNION ALL SELECT 'incidents', md5(string_agg(x::text, '|' ORDER BY x.client_id, x.incident_id)) FROM crm.incidents x
	UNION ALL SELECT 'interactions', md5(string_agg(x::text, '|' ORDER BY x.client_id, x.interaction_id)) FROM crm.interactions x
	UNION ALL SELECT 'categories', md5(string_agg(x::text, '|' ORDER BY x.category_id)) FROM crm.categories x
	UNION ALL SELECT 'products', md5(string_agg(x::text, '|' ORDER BY x.product_id)) FROM crm.products x
	UNION ALL SELECT 'price_lists', md5(string_agg(x::text, '|' ORDER BY x.price_list_id)) FROM crm.price_lists x
	UNION ALL SELECT 'prices', md5(string_agg(x::text, '|' ORDER BY x.price_list_id, x.product_id)) FROM crm.prices x
$$;

-- the foreign keys of the client tables, to compare after the loads
CREATE TEMP TABLE fks_before AS
SELECT conrelid::regclass::text AS tab, conname, pg_get_constraintdef(oid) AS def,
	   row_number() OVER (ORDER BY oid) AS position
  FROM pg_constraint WHERE contype = 'f' AND connamespace = 'crm'::regnamespace
   AND conrelid IN ('crm.consents'::regclass, 'crm.orders'::regclass,
					'crm.order_lines'::regclass, 'crm.incidents'::regclass,
					'crm.interactions'::regclass, 'crm.demo_clients'::regclass);

-- the model and the archetypes
SELECT * FROM crm.demo_model();
SELECT archetype, share FROM crm.demo_archetypes();
SELECT round(sum(share)::numeric, 12) AS total_share FROM crm.demo_archetypes();

--
-- bad arguments: each with its SQLSTATE, nothing written
--
SELECT pg_temp.error_of(s) FROM (VALUES
	($$SELECT crm.generate_demo_data(NULL)$$),
	($$SELECT crm.generate_demo_data(10, NULL)$$),
	($$SELECT crm.generate_demo_data(10, 1, NULL)$$),
	($$SELECT crm.generate_demo_data(0)$$),
	($$SELECT crm.generate_demo_data(-5, 1)$$),
	($$SELECT crm.generate_demo_data(2000000000)$$),
	($$SELECT crm.generate_demo_data(10, 1, 'infinity')$$),
	($$SELECT crm.generate_demo_data(10, 1, '1900-06-01 00:00:00+00')$$),
	($$SELECT * FROM crm.demo_order_rows(1, '2025-01-01', 0, 10, 1)$$),
	($$SELECT * FROM crm.demo_order_rows(1, '2025-01-01', 1, 10, 0)$$),
	($$SELECT * FROM crm.demo_interaction_rows(1, '2025-01-01', 1, 10, 1, 1, -1)$$),
	($$SELECT * FROM crm.demo_client_rows(1, '-infinity', 1, 10)$$)) AS v(s);
SELECT count(*) AS clients FROM crm.clients;
SELECT count(*) AS products FROM crm.products;
-- an empty range gives no rows
SELECT count(*) FROM crm.demo_order_rows(1, '2025-01-01', 5, 4, 1);

--
-- a small generation: the summary, and the same data again from the same seed
--
SELECT * FROM crm.generate_demo_data(200, 42, '2025-01-01 00:00:00+00');
SELECT seed, as_of, clients, time_unit, history_days, r, alpha, a, b, p, q, v,
	   archetype_shares
  FROM crm.demo_parameters;
CREATE TEMP TABLE digest_42 AS SELECT * FROM pg_temp.demo_digest();

-- the identity sequences continue after the generated rows
SELECT (SELECT last_value FROM crm.clients_client_id_seq) = (SELECT max(client_id) FROM crm.clients) AS clients_seq,
	   (SELECT last_value FROM crm.orders_order_id_seq) = (SELECT max(order_id) FROM crm.orders) AS orders_seq,
	   (SELECT last_value FROM crm.incidents_incident_id_seq) = (SELECT max(incident_id) FROM crm.incidents) AS incidents_seq,
	   (SELECT last_value FROM crm.interactions_interaction_id_seq) = (SELECT max(interaction_id) FROM crm.interactions) AS interactions_seq,
	   (SELECT last_value FROM crm.products_product_id_seq) = (SELECT max(product_id) FROM crm.products) AS products_seq;

-- identifiers are 1..N, and in time order within a client
SELECT (SELECT count(*) = max(order_id) AND min(order_id) = 1 FROM crm.orders) AS order_ids,
	   (SELECT count(*) = max(interaction_id) FROM crm.interactions) AS interaction_ids,
	   (SELECT count(*) = max(incident_id) FROM crm.incidents) AS incident_ids,
	   (SELECT bool_and(ok) FROM (
			SELECT ordered_at >= lag(ordered_at, 1, '-infinity') OVER w AS ok
			  FROM crm.orders WINDOW w AS (PARTITION BY client_id ORDER BY order_id)) s) AS orders_in_time_order,
	   (SELECT bool_and(ok) FROM (
			SELECT occurred_at >= lag(occurred_at, 1, '-infinity') OVER w AS ok
			  FROM crm.interactions WINDOW w AS (PARTITION BY client_id ORDER BY interaction_id)) s) AS interactions_in_time_order;

-- a refusal: the client tables are not empty
SELECT pg_temp.error_of($$SELECT crm.generate_demo_data(10)$$);
SELECT count(*) AS clients FROM crm.clients;

-- again from the same seed: the same rows, identifiers included
TRUNCATE crm.clients CASCADE;
SELECT count(*) AS rows FROM crm.generate_demo_data(200, 42, '2025-01-01 00:00:00+00');
SELECT d.table_name, d.digest = o.digest AS same
  FROM pg_temp.demo_digest() d JOIN digest_42 o USING (table_name)
 ORDER BY 1;

-- a caller who does not own the tables gets the same rows (its rows are
-- checked against the foreign keys one by one; the owner's load drops the
-- foreign keys and adds them back)
TRUNCATE crm.clients CASCADE;
-- (a member of crm_admin, the role that runs the extension)
CREATE ROLE regress_demo_loader IN ROLE crm_admin;
SET ROLE regress_demo_loader;
SELECT count(*) AS rows FROM crm.generate_demo_data(200, 42, '2025-01-01 00:00:00+00');
RESET ROLE;
SELECT d.table_name, d.digest = o.digest AS same
  FROM pg_temp.demo_digest() d JOIN digest_42 o USING (table_name)
 ORDER BY 1;
-- without ownership the foreign keys cannot be dropped
SET ROLE regress_demo_loader;
SELECT pg_temp.error_of($$ALTER TABLE crm.orders DROP CONSTRAINT orders_client_fkey$$);
RESET ROLE;
DROP ROLE regress_demo_loader;

-- the foreign keys are all back, as they were
SELECT count(*) > 10 AS has_foreign_keys,
	   count(*) FILTER (WHERE NOT EXISTS (
			SELECT FROM pg_constraint k
			 WHERE k.contype = 'f' AND k.conrelid::regclass::text = b.tab
			   AND k.conname = b.conname AND pg_get_constraintdef(k.oid) = b.def
			   AND k.convalidated)) AS missing_or_changed
  FROM fks_before b;
-- in the same order (their triggers fire in OID order, so a row that breaks two
-- of them is reported with the same one)
SELECT bool_and(b.position = a.position) AS same_order, count(*) > 10 AS compared
  FROM fks_before b
  JOIN (SELECT conrelid::regclass::text AS tab, conname,
			   row_number() OVER (ORDER BY oid) AS position
		  FROM pg_constraint WHERE contype = 'f' AND connamespace = 'crm'::regnamespace
		   AND conrelid IN ('crm.consents'::regclass, 'crm.orders'::regclass,
							'crm.order_lines'::regclass, 'crm.incidents'::regclass,
							'crm.interactions'::regclass, 'crm.demo_clients'::regclass)) a
	USING (tab, conname);

-- another seed gives other client data (the catalogue is the same)
TRUNCATE crm.clients CASCADE;
SELECT count(*) AS rows FROM crm.generate_demo_data(200, 43, '2025-01-01 00:00:00+00');
SELECT d.table_name, d.digest = o.digest AS same
  FROM pg_temp.demo_digest() d JOIN digest_42 o USING (table_name)
 ORDER BY 1;

-- a client's rows do not depend on how the range of clients is cut
SELECT (SELECT md5(string_agg(x::text, '|' ORDER BY x.order_id))
		  FROM crm.demo_order_rows(42, '2025-01-01', 1, 200, 1) x)
	 = (SELECT md5(string_agg(x::text, '|' ORDER BY x.order_id))
		  FROM (SELECT * FROM crm.demo_order_rows(42, '2025-01-01', 1, 77, 1)
				UNION ALL
				SELECT * FROM crm.demo_order_rows(42, '2025-01-01', 78, 200,
						1 + (SELECT count(*) FROM crm.demo_order_rows(42, '2025-01-01', 1, 77, 1)))) x)
	   AS orders_independent_of_the_cut,
	   (SELECT md5(string_agg(x::text, '|' ORDER BY x.client_id))
		  FROM crm.demo_truth_rows(42, '2025-01-01', 150, 160) x)
	 = (SELECT md5(string_agg(x::text, '|' ORDER BY x.client_id))
		  FROM crm.demo_truth_rows(42, '2025-01-01', 1, 200) x WHERE x.client_id BETWEEN 150 AND 160)
	   AS truth_independent_of_the_range;

-- nothing is written when the generation fails half-way
TRUNCATE crm.clients CASCADE;
CREATE FUNCTION pg_temp.fail_at_150() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.client_id = 150 THEN
		RAISE EXCEPTION 'stop at client 150' USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER fail_at_150 BEFORE INSERT ON crm.interactions
	FOR EACH ROW EXECUTE FUNCTION pg_temp.fail_at_150();
SELECT pg_temp.error_of($$SELECT crm.generate_demo_data(200, 42)$$);
DROP TRIGGER fail_at_150 ON crm.interactions;
SELECT (SELECT count(*) FROM crm.clients) AS clients, (SELECT count(*) FROM crm.orders) AS orders,
	   (SELECT count(*) FROM crm.interactions) AS interactions,
	   (SELECT count(*) FROM crm.demo_clients) AS truth;

-- a catalogue that is not the demo catalogue is refused
UPDATE crm.prices SET price = price + 1 WHERE product_id = 1 AND price_list_id = 1;
SELECT pg_temp.error_of($$SELECT crm.generate_demo_data(10)$$);
UPDATE crm.prices SET price = price - 1 WHERE product_id = 1 AND price_list_id = 1;

--
-- 2,000 clients: shares of the archetypes and their behaviour
--
SELECT count(*) AS rows FROM crm.generate_demo_data(2000, 7, '2025-01-01 00:00:00+00');
-- statistics for the checks below (their plans must not depend on when autovacuum runs)
ANALYZE crm.clients, crm.orders, crm.order_lines, crm.interactions, crm.demo_clients;

-- each archetype's share lies within four standard errors of its probability
SELECT a.archetype, a.share, count(d.client_id) AS clients,
	   abs(count(d.client_id) / 2000.0 - a.share) < 4 * sqrt(a.share * (1 - a.share) / 2000) AS share_ok
  FROM crm.demo_archetypes() a LEFT JOIN crm.demo_clients d USING (archetype)
 GROUP BY a.archetype, a.share ORDER BY a.share DESC, a.archetype;

-- every table: rows that belong together agree
SELECT
	(SELECT count(*) FROM crm.orders o,
			LATERAL (SELECT sum(l.gross_amount) AS g, sum(l.discount_amount) AS d,
							sum(l.net_amount) AS n, sum(l.cost_amount) AS c
					   FROM crm.order_lines l
					  WHERE l.client_id = o.client_id AND l.order_id = o.order_id) s
	  WHERE (o.gross_amount, o.discount_amount, o.net_amount, o.cost_amount)
			IS DISTINCT FROM (s.g, s.d, s.n, s.c)) AS orders_not_summing_their_lines,
	(SELECT count(*) FROM (SELECT count(*) AS n FROM crm.order_lines GROUP BY client_id, order_id) s
	  WHERE n NOT BETWEEN 1 AND 4) AS orders_with_bad_line_counts,
	(SELECT count(*) FROM crm.order_lines l JOIN crm.orders o USING (client_id, order_id)
	   JOIN crm.prices p ON p.price_list_id = o.price_list_id AND p.product_id = l.product_id
	  WHERE p.price <> l.unit_price) AS lines_not_at_list_price,
	(SELECT count(*) FROM crm.order_lines l JOIN crm.products p USING (product_id)
	  WHERE l.cost_amount <> p.unit_cost * l.quantity) AS lines_not_at_unit_cost,
	(SELECT count(*) FROM crm.orders o
	  WHERE (SELECT count(*) FROM crm.interactions i
			  WHERE i.client_id = o.client_id AND i.order_id = o.order_id AND i.kind = 'sale') <> 1)
	  AS orders_without_one_sale,
	(SELECT count(*) FROM crm.incidents n
	  WHERE NOT EXISTS (SELECT FROM crm.interactions i
						 WHERE i.client_id = n.client_id AND i.incident_id = n.incident_id
						   AND i.kind = 'incident' AND i.occurred_at = n.opened_at))
	  AS incidents_without_their_request,
	(SELECT count(*) FROM crm.clients c
	  WHERE EXISTS (SELECT FROM crm.orders o WHERE o.client_id = c.client_id AND o.ordered_at < c.created_at)
		 OR EXISTS (SELECT FROM crm.interactions i WHERE i.client_id = c.client_id AND i.occurred_at < c.created_at))
	  AS events_before_the_client,
	(SELECT count(*) FROM crm.orders WHERE ordered_at >= '2025-01-01') +
	(SELECT count(*) FROM crm.interactions WHERE occurred_at >= '2025-01-01') +
	(SELECT count(*) FROM crm.consents WHERE changed_at >= '2025-01-01') AS events_after_as_of,
	(SELECT count(*) FROM crm.interactions i
	  WHERE i.direction = 'outbound' AND i.campaign IS NOT NULL AND i.kind IN ('email', 'sms', 'push')
		AND NOT crm.can_contact(i.client_id, i.channel, i.occurred_at)) AS campaigns_without_consent,
	(SELECT count(*) FROM crm.demo_clients d
	  WHERE d.first_purchase_at IS DISTINCT FROM
			(SELECT min(o.ordered_at) FROM crm.orders o
			  WHERE o.client_id = d.client_id AND o.status IN ('placed', 'paid')))
	  AS truth_first_purchase_wrong;

-- what the data looks like
SELECT kind, count(*) AS clients FROM crm.clients GROUP BY kind ORDER BY kind;
SELECT status, count(*) AS orders, round(avg(net_amount), 2) AS mean_net,
	   count(*) FILTER (WHERE promo_used) AS promo, count(*) FILTER (WHERE points_paid > 0) AS with_points
  FROM crm.orders GROUP BY status ORDER BY status;
SELECT kind, count(*) AS interactions FROM crm.interactions GROUP BY kind ORDER BY kind;
SELECT status, count(*) AS incidents FROM crm.incidents GROUP BY status ORDER BY status;
SELECT round(count(*) FILTER (WHERE status IN ('placed', 'paid')) / 2000.0, 1) AS purchases_per_client,
	   round((SELECT count(*) FROM crm.interactions) / 2000.0, 1) AS interactions_per_client
  FROM crm.orders;

-- per archetype: purchases, promo share, days since the last purchase,
-- median gap between purchases
WITH p AS (
	SELECT d.archetype, o.client_id, o.ordered_at, o.promo_used,
		   extract(epoch FROM o.ordered_at - lag(o.ordered_at) OVER w) / 86400 AS gap
	  FROM crm.orders o JOIN crm.demo_clients d USING (client_id)
	 WHERE o.status IN ('placed', 'paid')
	WINDOW w AS (PARTITION BY o.client_id ORDER BY o.ordered_at, o.order_id)),
c AS (
	SELECT archetype, client_id, count(*) AS n, avg(promo_used::int) AS promo,
		   extract(epoch FROM '2025-01-01'::timestamptz - max(ordered_at)) / 86400 AS silence,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) AS median_gap
	  FROM p GROUP BY archetype, client_id)
SELECT archetype, round(avg(n), 0) AS purchases, round(avg(promo), 2) AS promo_share,
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY silence)::numeric, 0) AS median_silence,
	   round(percentile_cont(0.5) WITHIN GROUP (ORDER BY median_gap)::numeric, 0) AS median_gap
  FROM c GROUP BY archetype ORDER BY archetype;

-- loyal: more than 10 purchases, about weekly, still buying
SELECT count(*) FILTER (WHERE n <= 10) AS ten_or_fewer,
	   count(*) FILTER (WHERE silence > 30) AS silent_a_month
  FROM (SELECT o.client_id, count(*) AS n,
			   extract(epoch FROM '2025-01-01'::timestamptz - max(o.ordered_at)) / 86400 AS silence
		  FROM crm.orders o JOIN crm.demo_clients d USING (client_id)
		 WHERE d.archetype = 'loyal' AND o.status IN ('placed', 'paid')
		 GROUP BY o.client_id) s;

-- promising: first purchase within the last 120 days
SELECT count(*) FILTER (WHERE first_purchase_at < '2025-01-01'::timestamptz - interval '121 days') AS older
  FROM crm.demo_clients WHERE archetype = 'promising';

-- at risk: fewer purchases per day since the drop than before it
SELECT count(*) FILTER (WHERE after_rate >= before_rate) AS not_slower, count(*) AS clients
  FROM (SELECT d.client_id,
			   count(*) FILTER (WHERE o.ordered_at >= d.changed_at)
				 / (extract(epoch FROM '2025-01-01'::timestamptz - d.changed_at) / 86400) AS after_rate,
			   count(*) FILTER (WHERE o.ordered_at < d.changed_at)
				 / (extract(epoch FROM d.changed_at - d.first_purchase_at) / 86400) AS before_rate
		  FROM crm.demo_clients d JOIN crm.orders o USING (client_id)
		 WHERE d.archetype = 'at_risk' AND o.status IN ('placed', 'paid')
		 GROUP BY d.client_id, d.changed_at, d.first_purchase_at) s;

-- drifting: every client came back after a gap of 50 days or more
SELECT count(*) FILTER (WHERE max_gap < 49) AS never_away, count(*) AS clients
  FROM (SELECT client_id, max(gap) AS max_gap FROM (
			SELECT o.client_id,
				   extract(epoch FROM o.ordered_at - lag(o.ordered_at) OVER w) / 86400 AS gap
			  FROM crm.orders o JOIN crm.demo_clients d USING (client_id)
			 WHERE d.archetype = 'drifting' AND o.status IN ('placed', 'paid')
			WINDOW w AS (PARTITION BY o.client_id ORDER BY o.ordered_at)) g
		 GROUP BY client_id) s;

-- about to lose: silent between 45 and 240 days
SELECT count(*) FILTER (WHERE silence < 44 OR silence > 241) AS outside, count(*) AS clients
  FROM (SELECT o.client_id,
			   extract(epoch FROM '2025-01-01'::timestamptz - max(o.ordered_at)) / 86400 AS silence
		  FROM crm.orders o JOIN crm.demo_clients d USING (client_id)
		 WHERE d.archetype = 'about_to_lose' AND o.status IN ('placed', 'paid')
		 GROUP BY o.client_id) s;

-- seasonal sleepers buy only from 20 Nov to 31 Dec, 20 Mar to 25 Apr, 15 Jun to 31 Jul
SELECT count(*) FILTER (WHERE NOT (to_char(o.ordered_at, 'MM-DD') BETWEEN '11-20' AND '12-31'
								  OR to_char(o.ordered_at, 'MM-DD') BETWEEN '03-20' AND '04-25'
								  OR to_char(o.ordered_at, 'MM-DD') BETWEEN '06-15' AND '07-31'))
		 AS outside_the_peaks,
	   count(*) AS purchases
  FROM crm.orders o JOIN crm.demo_clients d USING (client_id)
 WHERE d.archetype = 'seasonal_sleeper' AND o.status IN ('placed', 'paid');

-- promo-dependent clients buy only with a promotion, within 5 days after an
-- outbound offer
SELECT count(*) FILTER (WHERE NOT o.promo_used) AS without_promo,
	   count(*) FILTER (WHERE NOT EXISTS (
			SELECT FROM crm.interactions i
			 WHERE i.client_id = o.client_id AND i.direction = 'outbound'
			   AND i.campaign IS NOT NULL
			   AND i.occurred_at < o.ordered_at
			   AND i.occurred_at > o.ordered_at - interval '5 days')) AS without_offer,
	   count(*) AS purchases
  FROM crm.orders o JOIN crm.demo_clients d USING (client_id)
 WHERE d.archetype = 'promo_dependent' AND o.status IN ('placed', 'paid');

-- lost: last purchase over a year ago, at least two offers since, no purchase after them
SELECT count(*) FILTER (WHERE last_purchase > '2024-01-01') AS bought_within_a_year,
	   count(*) FILTER (WHERE offers_after < 2) AS fewer_than_two_offers,
	   count(*) AS clients
  FROM (SELECT d.client_id,
			   (SELECT max(o.ordered_at) FROM crm.orders o
				 WHERE o.client_id = d.client_id AND o.status IN ('placed', 'paid')) AS last_purchase,
			   (SELECT count(*) FROM crm.interactions i
				 WHERE i.client_id = d.client_id AND i.direction = 'outbound'
				   AND i.campaign LIKE 'winback%' AND i.occurred_at > d.dropout_at) AS offers_after
		  FROM crm.demo_clients d WHERE d.archetype = 'lost') s;

-- leave the tables empty for the tests that follow
TRUNCATE crm.clients, crm.consents, crm.orders, crm.order_lines, crm.incidents,
	crm.interactions, crm.demo_clients, crm.demo_parameters, crm.categories,
	crm.products, crm.price_lists, crm.prices RESTART IDENTITY CASCADE;
SELECT (SELECT count(*) FROM crm.clients) + (SELECT count(*) FROM crm.products)
	 + (SELECT count(*) FROM crm.demo_parameters) AS rows_left;

-- the noisy mode widens the scripted archetypes and leaves the regular clients alone:
-- one purchase more for about one client in seven of the archetypes with a rhythm, an
-- out-of-season purchase for a quarter of the seasonal sleepers, about one promo-dependent
-- purchase in seven without the code (loyal and at-risk clients draw other gaps)
WITH t AS (SELECT client_id, archetype FROM crm.demo_truth_rows(42, '2025-01-01', 1, 3000)),
c AS (SELECT client_id, ordered_at, status, net_amount, promo_used
		FROM crm.demo_order_rows(42, '2025-01-01', 1, 3000, 1)),
n AS (SELECT client_id, ordered_at, status, net_amount, promo_used
		FROM crm.demo_order_rows(42, '2025-01-01', 1, 3000, 1, true)),
cs AS (SELECT client_id, count(*) FILTER (WHERE status IN ('placed', 'paid')) AS k,
			  md5(string_agg(c::text, ',' ORDER BY c::text)) AS h
		 FROM c GROUP BY client_id),
ns AS (SELECT client_id, count(*) FILTER (WHERE status IN ('placed', 'paid')) AS k,
			  md5(string_agg(n::text, ',' ORDER BY n::text)) AS h,
			  count(*) FILTER (WHERE status IN ('placed', 'paid')
							   AND extract(month FROM ordered_at AT TIME ZONE 'UTC') IN (1, 2, 5, 8, 9, 10)) AS off_season,
			  avg(promo_used::int) FILTER (WHERE status IN ('placed', 'paid')) AS promo_share
		 FROM n GROUP BY client_id)
SELECT t.archetype, count(*) AS clients,
	   count(*) FILTER (WHERE cs.h <> ns.h) AS changed,
	   count(*) FILTER (WHERE ns.k = cs.k + 1) AS one_purchase_more,
	   count(*) FILTER (WHERE ns.off_season > 0) AS with_off_season,
	   round(avg(ns.promo_share), 2) AS promo_share
  FROM t JOIN cs USING (client_id) JOIN ns USING (client_id)
 GROUP BY t.archetype ORDER BY t.archetype;
