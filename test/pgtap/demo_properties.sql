--
-- Properties of the demo data: the 'regular' clients follow BG/NBD and
-- Gamma-Gamma with the parameters in crm.demo_parameters, and the orders
-- agree with each client's true parameters.
--
-- Tolerances are about four standard errors at 4,000 clients (1,600
-- regular ones); the data are deterministic, so a pass is repeatable.
--
BEGIN;
-- the demo data come from the extension crm_demo
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS crm_demo;
RESET client_min_messages;
SELECT plan(18);

SELECT lives_ok($$SELECT crm.generate_demo_data(4000, 2024, '2025-01-01 00:00:00+00')$$,
				'4,000 demo clients load');

CREATE TEMP TABLE reg ON COMMIT DROP AS
SELECT d.*,
	   (SELECT count(*) FROM crm.orders o
		 WHERE o.client_id = d.client_id AND o.status IN ('placed', 'paid')) AS purchases,
	   (SELECT sum(o.net_amount) FROM crm.orders o
		 WHERE o.client_id = d.client_id AND o.status IN ('placed', 'paid')) AS revenue,
	   extract(epoch FROM coalesce(d.dropout_at, m.as_of) - d.first_purchase_at) / 86400 AS exposure
  FROM crm.demo_clients d CROSS JOIN crm.demo_parameters m
 WHERE d.archetype = 'regular';

CREATE TEMP TABLE par ON COMMIT DROP AS SELECT * FROM crm.demo_parameters;

-- the true parameters drawn for each client follow the population
SELECT cmp_ok(abs((SELECT avg(purchase_rate) FROM reg) / (SELECT r / alpha FROM par) - 1),
			  '<', 0.10::float8, 'mean purchase rate of regular clients is r/alpha');
SELECT cmp_ok(abs((SELECT stddev_pop(purchase_rate) / avg(purchase_rate) FROM reg)
				  * (SELECT sqrt(r) FROM par) - 1),
			  '<', 0.10::float8, 'coefficient of variation of the purchase rate is 1/sqrt(r)');
SELECT cmp_ok(abs((SELECT avg(dropout_prob) FROM reg) / (SELECT a / (a + b) FROM par) - 1),
			  '<', 0.10::float8, 'mean drop-out probability is a/(a+b)');
SELECT cmp_ok(abs((SELECT avg(mean_spend) FROM crm.demo_clients) / (SELECT p * v / (q - 1) FROM par) - 1),
			  '<', 0.05::float8, 'mean spend of all clients is p*v/(q-1)');

-- the orders agree with the truth: for a Poisson process stopped at the
-- drop-out, expected repeat purchases = rate * time alive, and expected
-- drop-outs = p * repeat purchases
SELECT cmp_ok(abs((SELECT sum(purchases - 1) FROM reg)
				  / (SELECT sum(purchase_rate * exposure) FROM reg) - 1),
			  '<', 0.05::float8, 'repeat purchases of regular clients = sum of rate * time alive');
SELECT cmp_ok(abs((SELECT sum(dropped_out::int) FROM reg)
				  / (SELECT sum(dropout_prob * (purchases - 1)) FROM reg) - 1),
			  '<', 0.10::float8, 'drop-outs of regular clients = sum of p * repeat purchases');
SELECT is((SELECT count(*) FROM reg WHERE dropped_out AND dropout_at <> (
				SELECT max(o.ordered_at) FROM crm.orders o
				 WHERE o.client_id = reg.client_id AND o.status IN ('placed', 'paid'))),
		  0::bigint, 'a client that dropped out did so at its last purchase');
SELECT is((SELECT count(*) FROM reg, par
			WHERE reg.first_purchase_at < par.as_of - par.history_days * interval '1 day' - interval '1 day'
			   OR reg.first_purchase_at >= par.as_of),
		  0::bigint, 'first purchases lie in the history window');

-- order values: Gamma(p, nu) around each client's mean spend
SELECT cmp_ok(abs((SELECT sum(revenue) FROM reg) / (SELECT sum(mean_spend * purchases) FROM reg) - 1),
			  '<', 0.03::float8, 'revenue of regular clients = sum of mean spend * purchases');
SELECT cmp_ok(abs((SELECT stddev_pop(o.net_amount / d.mean_spend::numeric)
					 FROM crm.orders o JOIN reg d USING (client_id)
					WHERE o.status IN ('placed', 'paid'))
				  * (SELECT sqrt(p) FROM par)::numeric - 1),
			  '<', 0.10::numeric, 'coefficient of variation of an order around its client''s mean is 1/sqrt(p)');

-- the archetypes keep their shares
SELECT is((SELECT count(*) FROM crm.demo_archetypes() a
			WHERE abs((SELECT count(*) FROM crm.demo_clients d WHERE d.archetype = a.archetype)
					  / 4000.0 - a.share) >= 4 * sqrt(a.share * (1 - a.share) / 4000)),
		  0::bigint, 'every archetype within four standard errors of its share');

-- new rows after the demo data take the next identifiers
SELECT is((SELECT max(order_id) + 1 FROM crm.orders),
		  (SELECT nextval('crm.orders_order_id_seq')), 'the order sequence continues after the demo orders');

-- family cards among the demo clients (crm.demo_households)
INSERT INTO crm.loyalty_programs (code, name, points_per_unit) VALUES ('demo-family', 'Family', 1);
CREATE TEMP TABLE made AS SELECT * FROM crm.demo_households('demo-family');
CREATE TEMP TABLE hh AS
SELECT m.owner_client_id, m.household_id, count(*) AS n, min(m.client_id) AS first_member,
	   count(DISTINCT (c.last_name, c.city)) AS surnames, bool_and(c.kind = 'person') AS persons,
	   count(*) FILTER (WHERE m.role = 'owner') AS owners
  FROM crm.household_members m JOIN crm.clients c USING (client_id)
 GROUP BY 1, 2;
SELECT is((SELECT (households, members) FROM made),
		  (SELECT (count(*), sum(n)::bigint) FROM hh), 'demo_households returns what it made');
SELECT ok((SELECT bool_and(n BETWEEN 2 AND 3 AND surnames = 1 AND persons AND owners = 1
						   AND first_member = owner_client_id) FROM hh)
		  AND (SELECT households FROM made) > 0,
		  'each household: two or three persons of one surname and city, the first its owner');
-- three to a household in client_id order: a surname and city of k persons makes ceil(k/3) households
-- (but a last person alone), and leaves out k % 3 = 1 of them
SELECT is((SELECT sum(CASE WHEN k % 3 = 1 THEN k / 3 ELSE (k + 2) / 3 END)::bigint
			 FROM (SELECT count(*) AS k FROM crm.clients WHERE kind = 'person'
					GROUP BY last_name, city) g),
		  (SELECT count(*) FROM hh), 'households per surname and city: three to one, a pair at the end');
SELECT is((SELECT (households, members) FROM crm.demo_households('demo-family')),
		  (0::bigint, 0::bigint), 'a second call makes none');
SELECT is((SELECT count(*) FROM crm.verify_ledger()), 0::bigint, 'verify_ledger is clean');

SELECT * FROM finish();
ROLLBACK;
