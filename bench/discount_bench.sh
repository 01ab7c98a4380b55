#!/usr/bin/env bash
#
# bench/discount_bench.sh: crm.price_cart (C) against an equivalent PL/pgSQL
# evaluator (bench/discount_plpgsql.sql, written only for this benchmark):
# a 10-line cart against 1,000 active rules, in one run, on a throwaway
# cluster.  Prints the time per call and the carts per second of
# crm.price_cart with its per-backend cache of the rules (the default), the
# same cart for a different client on each call (2,000 more clients with
# orders and loyalty accounts: the client's rows are read on every call), of
# crm.price_cart with crm.price_cart_cache off (the rules read by query on
# every call) and of the PL/pgSQL evaluator, their ratios, and whether the
# evaluators agree (lines, rules and totals) on the benchmark cart and on
# 20 other random carts.
#
# Usage: PG_CONFIG=... bench/discount_bench.sh [c_calls] [plpgsql_calls]
# The extension must be built and installed for $PG_CONFIG.
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac

set -euo pipefail
cd "$(dirname "$0")/.."

c_calls=${1:-500}
p_calls=${2:-5}
rounds=${3:-7}

. scripts/cluster.sh
crm_cluster_start fsync=off
tmp=$CRM_CLUSTER_DIR
psql() { command "$bindir/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }

psql -c 'CREATE EXTENSION crm'
psql -f bench/discount_plpgsql.sql

psql <<'SQL'
SELECT setseed(0.5) \g /dev/null
-- 100 categories (10 roots of 9 children), 500 products, 3 price lists
INSERT INTO crm.categories (category_id, parent_id, name)
SELECT g, CASE WHEN g <= 10 THEN NULL ELSE 1 + (g - 11) / 9 END, 'c' || g FROM generate_series(1, 100) g;
INSERT INTO crm.products (product_id, sku, name, category_id, unit_cost)
SELECT g, 'P' || g, 'p' || g, 1 + (g * 37) % 100, round((random() * 50)::numeric, 2) FROM generate_series(1, 500) g;
INSERT INTO crm.price_lists (price_list_id, code, name, kind) VALUES (1, 'A', 'a', 'retail'), (2, 'B', 'b', 'promotional'), (3, 'C', 'c', 'partner');
INSERT INTO crm.prices SELECT l, p, round((1 + random() * 200)::numeric, 2) FROM generate_series(1, 3) l, generate_series(1, 500) p;
INSERT INTO crm.clients (client_id, kind, first_name) SELECT g, 'person', 'c' || g FROM generate_series(1, 100) g;
INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, net_amount)
SELECT 1 + g % 100, '2026-01-01'::timestamptz + (g % 300) * interval '1 day', 'web', a, a
  FROM (SELECT g, round((random() * 300)::numeric, 2) a FROM generate_series(1, 2000) g) x;
-- a loyalty programme: most clients have an account, some with a tier
INSERT INTO crm.loyalty_programs (program_id, code, name, points_per_unit) VALUES (1, 'club', 'Club', 1);
INSERT INTO crm.loyalty_tiers (program_id, tier_code, name, threshold) VALUES (1, 'silver', 'Silver', 500), (1, 'gold', 'Gold', 2000);
INSERT INTO crm.loyalty_accounts (client_id, program_id, tier_code)
SELECT g, 1, (ARRAY['silver', 'gold', NULL])[1 + g % 3] FROM generate_series(1, 90) g;

-- 1,000 active rules, all in their validity window, with a mix of conditions
INSERT INTO crm.discount_rules (rule_id, code, name, rank, level, action, value, cap, stacking, base,
								price_list_id, category_id, min_order_amount, min_turnover,
								crossing_threshold, segment, tier, valid)
SELECT g, 'r' || g, 'rule ' || g, (random() * 100)::int,
	   CASE WHEN random() < 0.7 THEN 'line' ELSE 'order' END, a,
	   CASE WHEN a = 'percent' THEN round((0.5 + random() * 4.5)::numeric, 2) ELSE round((0.1 + random() * 2.9)::numeric, 2) END,
	   CASE WHEN random() < 0.2 THEN round((1 + random() * 20)::numeric, 2) END,
	   CASE WHEN random() < 0.88 THEN 'stack' WHEN random() < 0.6 THEN 'stop' ELSE 'exclusive' END,
	   CASE WHEN random() < 0.5 THEN 'original' ELSE 'remaining' END,
	   CASE WHEN random() < 0.2 THEN 1 + (random() * 2)::int END,
	   CASE WHEN random() < 0.6 THEN 1 + (random() * 99)::int END,
	   CASE WHEN random() < 0.15 THEN round((random() * 800)::numeric, 2) END,
	   CASE WHEN random() < 0.1 THEN round((random() * 5000)::numeric, 2) END,
	   CASE WHEN random() < 0.03 THEN round((random() * 8000)::numeric, 2) END,
	   CASE WHEN random() < 0.05 THEN (ARRAY['Champions', 'Loyal', 'At risk'])[1 + (random() * 2)::int] END,
	   CASE WHEN random() < 0.05 THEN (ARRAY['gold', 'silver'])[1 + (random() * 1)::int] END,
	   tstzrange('2026-01-01', '2027-01-01')
  FROM (SELECT g, CASE WHEN random() < 0.75 THEN 'percent' ELSE 'fixed' END AS a
		  FROM generate_series(1, 984) g) x;
INSERT INTO crm.discount_rules (rule_id, code, name, action, value, category_id, tier)
SELECT 984 + g, 'b' || g, 'bonus ' || g,
	   (ARRAY['cashback', 'cashback', 'cashback', 'points_share', 'points_multiplier'])[1 + g % 5],
	   CASE WHEN g % 5 = 4 THEN 1 + g % 3 ELSE 1 + g % 40 END,
	   CASE WHEN g % 5 IN (0, 1) THEN 1 + (g * 7) % 99 END,
	   CASE WHEN g % 5 = 4 AND g % 2 = 0 THEN 'gold' END
  FROM generate_series(1, 16) g;

-- the benchmark cart: 10 lines; 50 more random carts for the agreement check
CREATE TABLE bench.carts AS
SELECT c AS cart_id, 1 + (c * 13) % 100 AS client_id,
	   jsonb_build_object('segment', (ARRAY['Champions', 'Loyal', 'At risk'])[1 + c % 3],
						  'tier', CASE WHEN c % 4 <> 1 THEN (ARRAY['gold', 'silver'])[1 + c % 2] END,
						  'lines', (SELECT jsonb_agg(jsonb_build_object('product_id', 1 + (random() * 499)::int,
																		'quantity', 1 + (random() * 3)::int,
																		'price_list_id', 1 + (random() * 2)::int))
									  FROM generate_series(1, CASE WHEN c = 0 THEN 10 ELSE 1 + c % 10 END) WHERE c >= 0)) AS cart
  FROM generate_series(0, 20) c;
-- 2,000 more clients, with 5 orders each and most with an account, priced in turn
INSERT INTO crm.clients (client_id, kind, first_name) SELECT g, 'person', 'c' || g FROM generate_series(101, 2100) g;
INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, net_amount)
SELECT 101 + g % 2000, '2026-01-01'::timestamptz + (g % 300) * interval '1 day', 'web', a, a
  FROM (SELECT g, round((random() * 300)::numeric, 2) a FROM generate_series(1, 10000) g) x;
INSERT INTO crm.loyalty_accounts (client_id, program_id, tier_code)
SELECT g, 1, (ARRAY['silver', 'gold', NULL])[1 + g % 3] FROM generate_series(101, 2100) g WHERE g % 10 <> 0;
ANALYZE;

CREATE FUNCTION bench.per_call_ms(kind text, n integer, client bigint, cart jsonb, at timestamptz)
RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
BEGIN
	PERFORM set_config('crm.price_cart_cache', CASE WHEN kind = 'u' THEN 'off' ELSE 'on' END, false);
	t0 := clock_timestamp();
	FOR i IN 1 .. n LOOP
		IF kind IN ('c', 'u') THEN
			PERFORM crm.price_cart(client, cart, at);
		ELSIF kind = 'm' THEN
			PERFORM crm.price_cart(101 + (random() * 1999)::int, cart, at);
		ELSE
			PERFORM bench.price_cart_plpgsql(client, cart, at);
		END IF;
	END LOOP;
	RETURN extract(epoch FROM clock_timestamp() - t0) * 1000 / n;
END
$$;
SQL

at="2026-11-25 10:00+00"
psql -At <<SQL
SELECT format('rules read per call: %s; lines: %s; rules applied on the benchmark cart: %s, skipped: %s',
			  jsonb_array_length(q -> 'rules'), jsonb_array_length(q -> 'lines'),
			  (SELECT count(*) FROM jsonb_array_elements(q -> 'rules') r WHERE r ->> 'status' = 'applied'),
			  (SELECT count(*) FROM jsonb_array_elements(q -> 'rules') r WHERE r ->> 'status' = 'skipped'))
  FROM (SELECT crm.price_cart(client_id, cart, '$at') AS q FROM bench.carts WHERE cart_id = 0) x;
SELECT format('evaluators agree (lines, rules, totals) on %s of %s carts', count(*) FILTER (WHERE same), count(*))
  FROM (SELECT c.q -> 'lines' = p.q -> 'lines' AND c.q -> 'rules' = p.q -> 'rules' AND c.q -> 'totals' = p.q -> 'totals' AS same
		  FROM bench.carts,
			   LATERAL (SELECT crm.price_cart(client_id, cart, '$at') AS q) c,
			   LATERAL (SELECT bench.price_cart_plpgsql(client_id, cart, '$at') AS q) p) x;
SET crm.price_cart_cache = off;
CREATE TEMP TABLE uncached AS SELECT cart_id, crm.price_cart(client_id, cart, '$at') AS q FROM bench.carts;
RESET crm.price_cart_cache;
SELECT format('with and without the cache: the same answer on %s of %s carts', count(*) FILTER (WHERE u.q = crm.price_cart(b.client_id, b.cart, '$at')), count(*))
  FROM bench.carts b JOIN uncached u USING (cart_id);
SQL

psql -At <<SQL
-- warm up both (plans, caches), then time them in alternating rounds
SELECT bench.per_call_ms('c', 20, client_id, cart, '$at') + bench.per_call_ms('u', 20, client_id, cart, '$at')
	   + bench.per_call_ms('m', 20, client_id, cart, '$at')
	   + bench.per_call_ms('p', 2, client_id, cart, '$at') >= 0 AS warm
  FROM bench.carts WHERE cart_id = 0 \gset
CREATE TEMP TABLE timing (round integer, c_ms float8, u_ms float8, p_ms float8, m_ms float8);
DO \$\$
DECLARE
	cart jsonb;
	client bigint;
BEGIN
	SELECT b.cart, b.client_id INTO cart, client FROM bench.carts b WHERE cart_id = 0;
	FOR r IN 1 .. $rounds LOOP
		INSERT INTO timing VALUES (r, bench.per_call_ms('c', $c_calls, client, cart, '$at'),
									  bench.per_call_ms('u', $c_calls, client, cart, '$at'),
									  bench.per_call_ms('p', $p_calls, client, cart, '$at'),
									  bench.per_call_ms('m', $c_calls, client, cart, '$at'));
	END LOOP;
END
\$\$;
SELECT line FROM (
	SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY c_ms) AS c_med, min(c_ms) AS c_min,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY u_ms) AS u_med, min(u_ms) AS u_min,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY p_ms) AS p_med, min(p_ms) AS p_min,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY m_ms) AS m_med, min(m_ms) AS m_min, count(*) AS n
	  FROM timing) t,
	LATERAL (VALUES
		(1, format('crm.price_cart (C, cached rules):   median %s ms per call, %s carts/s (min %s ms, %s carts/s; %s rounds of %s calls)',
				   round(c_med::numeric, 3), round(1000 / c_med), round(c_min::numeric, 3), round(1000 / c_min), n, $c_calls)),
		(2, format('crm.price_cart (C, cached, another client each call): median %s ms per call, %s carts/s (min %s ms, %s carts/s)',
				   round(m_med::numeric, 3), round(1000 / m_med), round(m_min::numeric, 3), round(1000 / m_min))),
		(3, format('crm.price_cart (C, rules by query): median %s ms per call, %s carts/s (min %s ms, %s carts/s; %s rounds of %s calls)',
				   round(u_med::numeric, 3), round(1000 / u_med), round(u_min::numeric, 3), round(1000 / u_min), n, $c_calls)),
		(4, format('PL/pgSQL evaluator:                 median %s ms per call, %s carts/s (min %s ms, %s carts/s; %s rounds of %s calls)',
				   round(p_med::numeric, 3), round(1000 / p_med), round(p_min::numeric, 3), round(1000 / p_min), n, $p_calls)),
		(5, format('ratio PL/pgSQL / C cached:          %s x (medians; %s x from the minimums)',
				   round((p_med / c_med)::numeric, 1), round((p_min / c_min)::numeric, 1))),
		(6, format('ratio C by query / C cached:        %s x (medians; %s x from the minimums)',
				   round((u_med / c_med)::numeric, 1), round((u_min / c_min)::numeric, 1))),
		(7, format('load average while timing:          %s (the machine may be shared: ratios from one run)',
				   (SELECT split_part(pg_read_file('/proc/loadavg'), ' ', 1))))) AS v(k, line)
 ORDER BY k;
SQL
