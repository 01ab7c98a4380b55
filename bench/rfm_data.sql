-- bench/rfm_data.sql: plain-SQL purchase data for the RFM benchmark.
--
--   psql -v clients=1000000 -v seed=0.42 -v as_of="'2026-01-01'" -f bench/rfm_data.sql
--
-- Fills the empty crm.clients and crm.orders with :clients clients
-- and about 20 orders each (1 + a geometric count, mean 20), spread over
-- the three years before :as_of with a client-specific rhythm; 5 % of the
-- orders are cancelled, 30 % use an offer.  Rows are written in client
-- order; foreign-key triggers are off while loading (superuser only).
\set ON_ERROR_STOP on
SELECT setseed(:seed);
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM crm.clients) THEN
		RAISE EXCEPTION 'bench/rfm_data.sql fills an empty database: crm.clients has rows'
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
END
$$;

INSERT INTO crm.clients (client_id, first_name, created_at, updated_at)
SELECT g, 'client ' || g, :as_of::timestamptz - interval '4 years', :as_of::timestamptz - interval '4 years'
  FROM generate_series(1, :clients) g;

CREATE TEMP TABLE bench_clients AS
SELECT g AS client_id,
	   1 + floor(-ln(1 - random()) * 19)::int AS n,
	   random() * 1000 AS age_days,
	   20 + random() * 180 AS amount
  FROM generate_series(1, :clients) g;

ALTER TABLE crm.orders SET (autovacuum_enabled = off);
ALTER TABLE crm.orders DISABLE TRIGGER ALL;
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status,
						gross_amount, discount_amount, net_amount, promo_used)
SELECT client_id, order_id, ordered_at, 'web', status, gross, discount, gross - discount, discount > 0
  FROM (SELECT client_id, order_id, ordered_at, status, gross,
			   CASE WHEN offer THEN round(gross * 0.1, 2) ELSE 0 END AS discount
		  FROM (SELECT c.client_id,
					   (c.client_id - 1) * 1000 + i AS order_id,
					   :as_of::timestamptz
						 - make_interval(secs => (c.age_days * random() + random() * 95) * 86400) AS ordered_at,
					   CASE WHEN random() < 0.05 THEN 'cancelled' ELSE 'paid' END AS status,
					   round((c.amount * (0.5 + random()))::numeric, 2) AS gross,
					   random() < 0.3 AS offer
				  FROM bench_clients c
				 CROSS JOIN LATERAL generate_series(1, c.n) i) o) p;
ALTER TABLE crm.orders ENABLE TRIGGER ALL;
ALTER TABLE crm.orders RESET (autovacuum_enabled);
VACUUM ANALYZE crm.clients;
VACUUM ANALYZE crm.orders;
