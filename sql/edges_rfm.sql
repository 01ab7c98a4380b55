--
-- edges_rfm: the RFM functions (purchase profile, crm.rfm, quantile and
-- threshold scoring, segment maps, RFM scores, ABC, cross-sell) on NULL,
-- empty, negative, zero, huge, NaN and infinite input, row by row as
-- docs/inputs.md tabulates them.  Each cell is a call whose result or
-- SQLSTATE and message is printed.  Everything runs in one transaction
-- that is rolled back.
--
SET TimeZone = 'UTC';
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\i sql/include/edges.sql
BEGIN;
SELECT pg_temp.empty_crm();

-- crm.purchase_profile(purchased_at, amount [, offer])
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('null: rows with a null time or amount are skipped',
	 $$SELECT crm.purchase_profile(t, a) FROM (VALUES (NULL::timestamptz, 1::numeric), ('2024-01-01', NULL)) v(t, a)$$),
	('null offer: no offer',
	 $$SELECT (crm.purchase_profile(t, a, o)).offer_purchases FROM (VALUES ('2024-01-01'::timestamptz, 1::numeric, NULL::boolean)) v(t, a, o)$$),
	('empty: no rows',
	 $$SELECT crm.purchase_profile(t, a) FROM (VALUES ('2024-01-01'::timestamptz, 1::numeric)) v(t, a) WHERE false$$),
	('negative amount: a correction, counted',
	 $$SELECT (crm.purchase_profile(t, a)).total_spend FROM (VALUES ('2024-01-01'::timestamptz, 10::numeric), ('2024-01-02', -4)) v(t, a)$$),
	('zero amount: a purchase',
	 $$SELECT (crm.purchase_profile(t, a)).purchases FROM (VALUES ('2024-01-01'::timestamptz, 0::numeric)) v(t, a)$$),
	('huge amount 1e23: kept exactly',
	 $$SELECT (crm.purchase_profile(t, a)).total_spend FROM (VALUES ('2024-01-01'::timestamptz, 1e23::numeric)) v(t, a)$$),
	('huge amount 1e24',
	 $$SELECT crm.purchase_profile(t, a) FROM (VALUES ('2024-01-01'::timestamptz, 1e24::numeric)) v(t, a)$$),
	('huge span 4713 BC to 294276 AD: span_days',
	 $$SELECT (crm.purchase_profile(t, 1)).span_days FROM (VALUES ('4713-01-01 BC'::timestamptz), ('294276-12-31')) v(t)$$),
	('huge span: mean_gap_days',
	 $$SELECT (crm.purchase_profile(t, 1)).mean_gap_days FROM (VALUES ('4713-01-01 BC'::timestamptz), ('294276-12-31')) v(t)$$),
	('NaN amount',
	 $$SELECT crm.purchase_profile(t, a) FROM (VALUES ('2024-01-01'::timestamptz, 'NaN'::numeric)) v(t, a)$$),
	('Infinity amount',
	 $$SELECT crm.purchase_profile(t, a) FROM (VALUES ('2024-01-01'::timestamptz, 'Infinity'::numeric)) v(t, a)$$),
	('infinity time',
	 $$SELECT crm.purchase_profile(t, a) FROM (VALUES ('infinity'::timestamptz, 1::numeric)) v(t, a)$$),
	('-infinity time',
	 $$SELECT crm.purchase_profile(t, a) FROM (VALUES ('-infinity'::timestamptz, 1::numeric)) v(t, a)$$)
) AS t(cell, q);

-- crm.purchase_profile_state(purchased_at, amount, offer) and
-- crm.purchase_profile_from_state(state): the aggregate's rules, the bytes checked
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('state: null rows skipped, all skipped: NULL',
	 $$SELECT crm.purchase_profile_state(t, a, NULL) FROM (VALUES (NULL::timestamptz, 1::numeric), ('2024-01-01', NULL)) v(t, a)$$),
	('state: empty: NULL',
	 $$SELECT crm.purchase_profile_state(t, 1, false) FROM (VALUES ('2024-01-01'::timestamptz)) v(t) WHERE false$$),
	('state: negative amount, back: a correction',
	 $$SELECT (crm.purchase_profile_from_state(crm.purchase_profile_state(t, a, false))).total_spend FROM (VALUES ('2024-01-01'::timestamptz, 10::numeric), ('2024-01-02', -4)) v(t, a)$$),
	('state: huge amount 1e24',
	 $$SELECT crm.purchase_profile_state(t, a, false) FROM (VALUES ('2024-01-01'::timestamptz, 1e24::numeric)) v(t, a)$$),
	('state: NaN amount',
	 $$SELECT crm.purchase_profile_state(t, a, false) FROM (VALUES ('2024-01-01'::timestamptz, 'NaN'::numeric)) v(t, a)$$),
	('state: infinity time',
	 $$SELECT crm.purchase_profile_state(t, 1, false) FROM (VALUES ('infinity'::timestamptz)) v(t)$$),
	('from_state: null', $$SELECT crm.purchase_profile_from_state(NULL)$$),
	('from_state: empty bytes', $$SELECT crm.purchase_profile_from_state('')$$),
	('from_state: zero bytes (123 of them)', $$SELECT crm.purchase_profile_from_state(set_byte(decode(repeat('00', 123), 'hex'), 0, 1))$$),
	('from_state: huge (a state with one byte more)',
	 $$SELECT crm.purchase_profile_from_state(crm.purchase_profile_state(t, 1, false) || '\x00'::bytea) FROM (VALUES ('2024-01-01'::timestamptz)) v(t)$$)
) AS t(cell, q);

-- crm.purchase_profile_state_size(): no argument
SELECT crm.purchase_profile_state_size();

-- crm.recency_days(last_purchase, as_of)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('null', $$SELECT crm.recency_days(NULL, '2025-01-01')$$),
	('negative: purchase after as_of', $$SELECT crm.recency_days('2025-01-01', '2024-12-31 12:00')$$),
	('zero', $$SELECT crm.recency_days('2025-01-01', '2025-01-01 23:59')$$),
	('huge: 4713 BC to 294276 AD', $$SELECT crm.recency_days('4713-01-01 BC', '294276-01-01')$$),
	('huge: 294276 AD to 4713 BC', $$SELECT crm.recency_days('294276-01-01', '4713-01-01 BC')$$),
	('infinity', $$SELECT crm.recency_days('2024-01-01', 'infinity')$$),
	('-infinity', $$SELECT crm.recency_days('-infinity', '2024-01-01')$$)
) AS t(cell, q);

-- the crm.rfm type's input, crm.rfm(r, f, m), the three score accessors,
-- the comparison and hash functions
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('input: null', $$SELECT NULL::crm.rfm$$),
	('input: empty', $$SELECT ''::crm.rfm$$),
	('input: blanks', $$SELECT '   '::crm.rfm$$),
	('input: negative', $$SELECT '-11'::crm.rfm$$),
	('input: zero', $$SELECT '000'::crm.rfm$$),
	('input: huge 999', $$SELECT '999'::crm.rfm$$),
	('input: four digits', $$SELECT '5434'::crm.rfm$$),
	('input: NaN', $$SELECT 'NaN'::crm.rfm$$),
	('input: dashes', $$SELECT ' 5-4-3 '::crm.rfm$$),
	('input: wrong dashes', $$SELECT '5--4-3'::crm.rfm$$),
	('rfm(): null', $$SELECT crm.rfm(NULL, 1, 1)$$),
	('rfm(): negative', $$SELECT crm.rfm(5, -1, 1)$$),
	('rfm(): zero', $$SELECT crm.rfm(5, 4, 0)$$),
	('rfm(): huge', $$SELECT crm.rfm(2147483647, 1, 1)$$),
	('rfm(): 10', $$SELECT crm.rfm(10, 1, 1)$$),
	('recency_score: null', $$SELECT crm.recency_score(NULL)$$),
	('frequency_score: null', $$SELECT crm.frequency_score(NULL)$$),
	('monetary_score: null', $$SELECT crm.monetary_score(NULL)$$),
	('monetary_score of 999', $$SELECT crm.monetary_score('999')$$),
	('= with a null', $$SELECT '543'::crm.rfm OPERATOR(crm.=) NULL$$),
	('rfm_cmp: null', $$SELECT crm.rfm_cmp('543', NULL)$$),
	('rfm_cmp: 111 < 999', $$SELECT crm.rfm_cmp('111', '999')$$),
	('rfm_hash: null', $$SELECT crm.rfm_hash(NULL)$$),
	('rfm_hash_extended: null seed', $$SELECT crm.rfm_hash_extended('543', NULL)$$),
	('rfm_hash_extended: negative seed', $$SELECT crm.rfm_hash_extended('543', -1) = crm.rfm_hash_extended('5-4-3', -1)$$)
) AS t(cell, q);

-- crm.quantile_breaks(value, classes, higher_is_better)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('null value: skipped', $$SELECT crm.quantile_breaks(x, 3, true) FROM (VALUES (NULL::float8), (1), (2), (3)) v(x)$$),
	('all null values', $$SELECT crm.quantile_breaks(x, 3, true) FROM (VALUES (NULL::float8)) v(x)$$),
	('null classes', $$SELECT crm.quantile_breaks(x, NULL, true) FROM (VALUES (1::float8)) v(x)$$),
	('null direction', $$SELECT crm.quantile_breaks(x, 3, NULL) FROM (VALUES (1::float8)) v(x)$$),
	('empty: no rows', $$SELECT crm.quantile_breaks(x, 3, true) FROM (VALUES (1::float8)) v(x) WHERE false$$),
	('negative values', $$SELECT crm.quantile_breaks(x, 3, true) FROM (VALUES (-3::float8), (-2), (-1)) v(x)$$),
	('negative classes', $$SELECT crm.quantile_breaks(x, -1, true) FROM (VALUES (1::float8)) v(x)$$),
	('zero classes', $$SELECT crm.quantile_breaks(x, 0, true) FROM (VALUES (1::float8)) v(x)$$),
	('one class', $$SELECT crm.quantile_breaks(x, 1, true) FROM (VALUES (1::float8)) v(x)$$),
	('100 classes', $$SELECT cardinality(crm.quantile_breaks(x, 100, true)) FROM (VALUES (1::float8), (2)) v(x)$$),
	('101 classes', $$SELECT crm.quantile_breaks(x, 101, true) FROM (VALUES (1::float8)) v(x)$$),
	('huge classes', $$SELECT crm.quantile_breaks(x, 2147483647, true) FROM (VALUES (1::float8)) v(x)$$),
	('classes differ between rows', $$SELECT crm.quantile_breaks(x, c, true) FROM (VALUES (1::float8, 3), (2, 4)) v(x, c)$$),
	('huge values', $$SELECT crm.quantile_breaks(x, 3, true) FROM (VALUES (-1e308::float8), (0), (1e308)) v(x)$$),
	('NaN value', $$SELECT crm.quantile_breaks(x, 3, true) FROM (VALUES ('NaN'::float8), (1)) v(x)$$),
	('infinite values', $$SELECT crm.quantile_breaks(x, 3, true) FROM (VALUES ('-Infinity'::float8), (0), ('Infinity')) v(x)$$)
) AS t(cell, q);

-- the crm.quantile_state type's input (the state of crm.quantile_breaks)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('null', $$SELECT NULL::crm.quantile_state$$),
	('empty', $$SELECT ''::crm.quantile_state$$),
	('no values', $$SELECT '5 higher'::crm.quantile_state$$),
	('zero classes', $$SELECT '0 higher 1:1'::crm.quantile_state$$),
	('negative count', $$SELECT '5 higher 1:-1'::crm.quantile_state$$),
	('zero count', $$SELECT '5 higher 1:0'::crm.quantile_state$$),
	('huge counts beyond bigint', $$SELECT '5 higher 1:9223372036854775807 2:1'::crm.quantile_state$$),
	('huge value', $$SELECT '5 higher 1e999:1'::crm.quantile_state$$),
	('NaN value', $$SELECT '5 higher NaN:1'::crm.quantile_state$$),
	('infinite values', $$SELECT '5 lower -Infinity:1 Infinity:2'::crm.quantile_state$$),
	('unknown direction', $$SELECT '5 sideways 1:1'::crm.quantile_state$$),
	('unsorted, repeated, -0', $$SELECT '3 higher 2:1 0:1 -0:1'::crm.quantile_state$$)
) AS t(cell, q);

-- crm.threshold_score(value, thresholds, higher_is_better)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('null value', $$SELECT crm.threshold_score(NULL, '{1,2}')$$),
	('null thresholds', $$SELECT crm.threshold_score(1, NULL)$$),
	('null direction', $$SELECT crm.threshold_score(1, '{1,2}', NULL)$$),
	('null threshold', $$SELECT crm.threshold_score(1, '{1,NULL}')$$),
	('empty thresholds', $$SELECT crm.threshold_score(1, '{}')$$),
	('negative value', $$SELECT crm.threshold_score(-5, '{-3,0,3}')$$),
	('zero, equal to a threshold', $$SELECT crm.threshold_score(0, '{-3,0,3}')$$),
	('huge value', $$SELECT crm.threshold_score(1e308, '{-3,0,3}')$$),
	('huge value, lower is better', $$SELECT crm.threshold_score(1e308, '{-3,0,3}', false)$$),
	('NaN value', $$SELECT crm.threshold_score('NaN', '{1,2}')$$),
	('Infinity value', $$SELECT crm.threshold_score('Infinity', '{1,2}')$$),
	('-Infinity value', $$SELECT crm.threshold_score('-Infinity', '{1,2}')$$),
	('NaN threshold', $$SELECT crm.threshold_score(1, '{0,NaN}')$$),
	('descending thresholds', $$SELECT crm.threshold_score(1, '{2,1}')$$),
	('two-dimensional thresholds', $$SELECT crm.threshold_score(1, '{{1,2},{3,4}}')$$)
) AS t(cell, q);

-- segment maps: crm.segment_map_coverage, crm.segment_map_problems,
-- crm.segment_map_classes, crm.segment_map_cells, crm.rfm_segment
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('coverage: null', $$SELECT count(*) FROM crm.segment_map_coverage(NULL)$$),
	('coverage: empty name', $$SELECT count(*) FROM crm.segment_map_coverage('')$$),
	('coverage: rfm11', $$SELECT count(*) FROM crm.segment_map_coverage('rfm11')$$),
	('problems: null', $$SELECT count(*) FROM crm.segment_map_problems(NULL)$$),
	('problems: empty name', $$SELECT count(*) FROM crm.segment_map_problems('')$$),
	('problems: rfm11', $$SELECT count(*) FROM crm.segment_map_problems('rfm11')$$),
	('classes: null', $$SELECT crm.segment_map_classes(NULL)$$),
	('classes: empty name', $$SELECT crm.segment_map_classes('')$$),
	('classes: rf10', $$SELECT crm.segment_map_classes('rf10')$$),
	('cells: null', $$SELECT count(*) FROM crm.segment_map_cells(NULL)$$),
	('cells: empty name', $$SELECT count(*) FROM crm.segment_map_cells('')$$),
	('rfm_segment: null value', $$SELECT crm.rfm_segment(NULL)$$),
	('rfm_segment: null map', $$SELECT crm.rfm_segment('543', NULL)$$),
	('rfm_segment: empty map name', $$SELECT crm.rfm_segment('543', '')$$),
	('rfm_segment: 999 beyond 5 classes', $$SELECT crm.rfm_segment('999')$$),
	('rfm_segment: 111', $$SELECT crm.rfm_segment('111')$$)
) AS t(cell, q);

-- a map that is not a partition (uncommitted rules are not checked yet)
INSERT INTO crm.segment_maps (map_name, classes, description) VALUES ('holes', 2, 'two rules, holes');
INSERT INTO crm.segment_map_rules VALUES ('holes', 1, 'Top', 2, 2, 2, 2, 2, 2), ('holes', 2, 'Also top', 2, 2, 2, 2, 1, 2);
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('problems: holes', $$SELECT count(*) FROM crm.segment_map_problems('holes')$$),
	('cells: holes', $$SELECT count(*) FROM crm.segment_map_cells('holes')$$),
	('rfm_segment: unmapped cell', $$SELECT crm.rfm_segment('111', 'holes')$$),
	('rfm_segment: doubly mapped cell', $$SELECT crm.rfm_segment('222', 'holes')$$)
) AS t(cell, q);
DELETE FROM crm.segment_map_rules WHERE map_name = 'holes';
DELETE FROM crm.segment_maps WHERE map_name = 'holes';

-- the functions over crm.orders, first on empty tables
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('client_profiles: empty', $$SELECT count(*) FROM crm.client_profiles('2025-01-01')$$),
	('rfm_scores: empty', $$SELECT count(*) FROM crm.rfm_scores('2025-01-01')$$),
	('rfm_scores: empty, infinity', $$SELECT count(*) FROM crm.rfm_scores('infinity')$$),
	('abc_analysis: empty', $$SELECT count(*) FROM crm.abc_analysis('2025-01-01')$$),
	('product_affinity: empty', $$SELECT count(*) FROM crm.product_affinity('2025-01-01')$$),
	('segment_category_revenue: empty', $$SELECT count(*) FROM crm.segment_category_revenue('2025-01-01')$$),
	('segment_category_revenue: empty, unknown map', $$SELECT count(*) FROM crm.segment_category_revenue('2025-01-01', 'no_such_map')$$),
	('category_subtree: empty', $$SELECT count(*) FROM crm.category_subtree(1)$$)
) AS t(cell, q);

-- a small client base: Ann buys three times (one basket with both
-- products), Bob once, Cy never; a cancelled order does not count
INSERT INTO crm.clients (client_id, first_name) VALUES (1, 'Ann'), (2, 'Bob'), (3, 'Cy');
INSERT INTO crm.categories (category_id, parent_id, name) VALUES (1, NULL, 'Shoes'), (2, 1, 'Running'), (3, NULL, 'Books');
INSERT INTO crm.products (product_id, sku, name, category_id) VALUES (10, 'RUN', 'Runner', 2), (11, 'BOOK', 'Book', 3);
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount) VALUES
	(1, 1, '2024-01-01', 'web', 'paid', 100, 100), (1, 2, '2024-02-01', 'web', 'paid', 50, 50),
	(1, 3, '2024-03-01', 'web', 'paid', 70, 70), (2, 4, '2024-01-15', 'web', 'paid', 10, 10),
	(2, 5, '2024-06-15', 'web', 'cancelled', 0, 0);
INSERT INTO crm.order_lines (client_id, order_id, line_no, product_id, quantity, unit_price, gross_amount, net_amount) VALUES
	(1, 1, 1, 10, 2, 50, 100, 100), (1, 2, 1, 10, 1, 50, 50, 50), (1, 3, 1, 10, 1, 50, 50, 50),
	(1, 3, 2, 11, 2, 10, 20, 20), (2, 4, 1, 11, 1, 10, 10, 10);
-- statistics of these rows only: which client an error names first must
-- not depend on what earlier tests left in the statistics
ANALYZE crm.clients, crm.orders, crm.order_lines;

-- crm.client_profiles(as_of)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('null', $$SELECT count(*) FROM crm.client_profiles(NULL)$$),
	('before every purchase', $$SELECT count(*) FROM crm.client_profiles('2023-01-01')$$),
	('huge: 294276 AD', $$SELECT count(*) FROM crm.client_profiles('294276-12-31')$$),
	('infinity', $$SELECT count(*) FROM crm.client_profiles('infinity')$$),
	('-infinity', $$SELECT count(*) FROM crm.client_profiles('-infinity')$$)
) AS t(cell, q);

-- crm.rfm_scores(as_of, map_name, monetary_by)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('scores', $$SELECT string_agg(format('%s %s %s', client_id, rfm, segment), '; ' ORDER BY client_id) FROM crm.rfm_scores('2025-01-01')$$),
	('null as_of', $$SELECT count(*) FROM crm.rfm_scores(NULL)$$),
	('null map', $$SELECT count(*) FROM crm.rfm_scores('2025-01-01', NULL)$$),
	('null monetary_by', $$SELECT count(*) FROM crm.rfm_scores('2025-01-01', 'rfm11', NULL)$$),
	('empty map name', $$SELECT count(*) FROM crm.rfm_scores('2025-01-01', '')$$),
	('empty monetary_by', $$SELECT count(*) FROM crm.rfm_scores('2025-01-01', 'rfm11', '')$$),
	('as_of before every purchase', $$SELECT count(*) FROM crm.rfm_scores('2023-12-31')$$),
	('huge: 294276 AD', $$SELECT string_agg(recency_days::text, ',' ORDER BY client_id) FROM crm.rfm_scores('294276-12-31')$$),
	('infinity', $$SELECT count(*) FROM crm.rfm_scores('infinity')$$),
	('-infinity', $$SELECT count(*) FROM crm.rfm_scores('-infinity')$$)
) AS t(cell, q);

-- crm.abc_class(share_before, a_share, b_share)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('null', $$SELECT crm.abc_class(NULL)$$),
	('null share', $$SELECT crm.abc_class(0.5, NULL)$$),
	('negative', $$SELECT crm.abc_class(-1)$$),
	('zero', $$SELECT crm.abc_class(0)$$),
	('huge', $$SELECT crm.abc_class(1e308)$$),
	('NaN', $$SELECT crm.abc_class('NaN')$$),
	('Infinity', $$SELECT crm.abc_class('Infinity')$$),
	('-Infinity', $$SELECT crm.abc_class('-Infinity')$$),
	('negative a_share', $$SELECT crm.abc_class(0.5, -0.1, 0.9)$$),
	('zero a_share', $$SELECT crm.abc_class(0.5, 0, 0.9)$$),
	('a_share = b_share', $$SELECT crm.abc_class(0.5, 0.5, 0.5)$$),
	('huge b_share', $$SELECT crm.abc_class(0.5, 0.5, 1e308)$$),
	('NaN a_share', $$SELECT crm.abc_class(0.5, 'NaN', 0.9)$$),
	('Infinity b_share', $$SELECT crm.abc_class(0.5, 0.5, 'Infinity')$$)
) AS t(cell, q);

-- crm.abc_analysis(as_of, a_share, b_share)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('classes', $$SELECT string_agg(format('%s %s', client_id, abc), '; ' ORDER BY client_id) FROM crm.abc_analysis('2025-01-01')$$),
	('null', $$SELECT count(*) FROM crm.abc_analysis(NULL)$$),
	('null a_share', $$SELECT count(*) FROM crm.abc_analysis('2025-01-01', NULL)$$),
	('null b_share', $$SELECT count(*) FROM crm.abc_analysis('2025-01-01', 0.8, NULL)$$),
	('negative share', $$SELECT count(*) FROM crm.abc_analysis('2025-01-01', -0.5, 0.9)$$),
	('zero share', $$SELECT count(*) FROM crm.abc_analysis('2025-01-01', 0, 0.9)$$),
	('huge share', $$SELECT count(*) FROM crm.abc_analysis('2025-01-01', 0.5, 1e308)$$),
	('NaN share', $$SELECT count(*) FROM crm.abc_analysis('2025-01-01', 'NaN', 0.9)$$),
	('infinity', $$SELECT count(*) FROM crm.abc_analysis('infinity')$$),
	('-infinity', $$SELECT count(*) FROM crm.abc_analysis('-infinity')$$)
) AS t(cell, q);

-- crm.product_affinity(as_of, min_support, since, level)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('rules', $$SELECT string_agg(format('%s>%s lift %s', antecedent, consequent, round(lift::numeric, 3)), '; ') FROM crm.product_affinity('2025-01-01')$$),
	('null', $$SELECT count(*) FROM crm.product_affinity(NULL)$$),
	('null min_support', $$SELECT count(*) FROM crm.product_affinity('2025-01-01', NULL)$$),
	('null since', $$SELECT count(*) FROM crm.product_affinity('2025-01-01', 0.1, NULL)$$),
	('null level', $$SELECT count(*) FROM crm.product_affinity('2025-01-01', 0.1, '-infinity', NULL)$$),
	('empty level', $$SELECT count(*) FROM crm.product_affinity('2025-01-01', 0.1, '-infinity', '')$$),
	('negative support', $$SELECT count(*) FROM crm.product_affinity('2025-01-01', -0.1)$$),
	('zero support', $$SELECT count(*) FROM crm.product_affinity('2025-01-01', 0)$$),
	('tiny support 1e-300', $$SELECT count(*) FROM crm.product_affinity('2025-01-01', 1e-300)$$),
	('huge support', $$SELECT count(*) FROM crm.product_affinity('2025-01-01', 1e308)$$),
	('NaN support', $$SELECT count(*) FROM crm.product_affinity('2025-01-01', 'NaN')$$),
	('Infinity support', $$SELECT count(*) FROM crm.product_affinity('2025-01-01', 'Infinity')$$),
	('as_of infinity, by category', $$SELECT count(*) FROM crm.product_affinity('infinity', 0.1, '-infinity', 'category')$$),
	('since infinity', $$SELECT count(*) FROM crm.product_affinity('2025-01-01', 0.1, 'infinity')$$)
) AS t(cell, q);

-- crm.segment_category_revenue(as_of, map_name)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('rows', $$SELECT count(*) FROM crm.segment_category_revenue('2025-01-01')$$),
	('null', $$SELECT count(*) FROM crm.segment_category_revenue(NULL)$$),
	('null map', $$SELECT count(*) FROM crm.segment_category_revenue('2025-01-01', NULL)$$),
	('empty map name', $$SELECT count(*) FROM crm.segment_category_revenue('2025-01-01', '')$$),
	('infinity', $$SELECT count(*) FROM crm.segment_category_revenue('infinity')$$),
	('-infinity', $$SELECT count(*) FROM crm.segment_category_revenue('-infinity')$$)
) AS t(cell, q);

ROLLBACK;
SELECT pg_temp.sequences_unchanged();
