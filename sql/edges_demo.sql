--
-- edges_demo: the demo generator and its row functions on NULL, empty,
-- negative, zero, huge and infinite input, row by row as docs/inputs.md
-- tabulates them.  crm.generate_demo_data is run through w(), which prints
-- the tables of crm it changed.  Everything runs in one transaction that
-- is rolled back.
--
-- the generator is the extension crm_demo
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS crm_demo;
RESET client_min_messages;
SET TimeZone = 'UTC';
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\i sql/include/edges.sql
BEGIN;
SELECT pg_temp.empty_crm();

-- the catalogue and model functions take no argument
SELECT (SELECT count(*) FROM crm.demo_model()) AS model,
	   (SELECT count(*) FROM crm.demo_archetypes()) AS archetypes,
	   (SELECT count(*) FROM crm.demo_category_rows()) AS categories,
	   (SELECT count(*) FROM crm.demo_product_rows()) AS products,
	   (SELECT count(*) FROM crm.demo_price_list_rows()) AS price_lists,
	   (SELECT count(*) FROM crm.demo_price_rows()) AS prices;

-- the client-data row functions: (seed, as_of, first_client, last_client
-- [, first_order_id [, first_incident_id [, first_interaction_id]]]),
-- each with the same cells (id: the last of the id arguments, the others
-- 1); count_rows(f, args) counts the rows of one call
CREATE FUNCTION pg_temp.count_rows(f text, args text) RETURNS text
LANGUAGE sql AS $$
	SELECT pg_temp.v(format('SELECT count(*) FROM crm.%s(%s)', f, args))
$$;
SELECT f AS function, cell,
	   pg_temp.count_rows(f, args || repeat(', 1', n - 1) || CASE WHEN n > 0 THEN ', ' || id ELSE '' END) AS result
  FROM (VALUES ('demo_client_rows', 0), ('demo_truth_rows', 0), ('demo_consent_rows', 0),
			   ('demo_order_rows', 1), ('demo_line_rows', 1), ('demo_incident_rows', 2),
			   ('demo_interaction_rows', 3)) fn(f, n)
 CROSS JOIN LATERAL (VALUES
	(1, 'clients 1 to 3', $$1, '2025-01-01', 1, 3$$, '1'),
	(2, 'null seed', $$NULL, '2025-01-01', 1, 3$$, '1'),
	(3, 'null id', $$1, '2025-01-01', 1, 3$$, 'NULL'),
	(4, 'last client before the first', $$1, '2025-01-01', 3, 1$$, '1'),
	(5, 'negative last client', $$1, '2025-01-01', 1, -5$$, '1'),
	(6, 'negative first client', $$1, '2025-01-01', -5, 1$$, '1'),
	(7, 'negative first id', $$1, '2025-01-01', 1, 3$$, '-1'),
	(8, 'zero first client', $$1, '2025-01-01', 0, 1$$, '1'),
	(9, 'zero first id', $$1, '2025-01-01', 1, 3$$, '0'),
	(10, 'negative seed', $$-1, '2025-01-01', 1, 3$$, '1'),
	(21, 'zero seed', $$0, '2025-01-01', 1, 3$$, '1'),
	(11, 'the smallest seed', $$-9223372036854775808, '2025-01-01', 1, 3$$, '1'),
	(12, 'the largest seed', $$9223372036854775807, '2025-01-01', 1, 3$$, '1'),
	(13, 'the largest client id', $$1, '2025-01-01', 9223372036854775807, 9223372036854775807$$, '1'),
	(14, 'ids numbered from the largest bigint', $$1, '2025-01-01', 1, 100$$, '9223372036854775807'),
	(15, 'as_of 1910-01-01', $$1, '1910-01-01', 1, 3$$, '1'),
	(16, 'as_of 1909-12-31', $$1, '1909-12-31', 1, 3$$, '1'),
	(17, 'as_of 9999-12-31 23:59:59', $$1, '9999-12-31 23:59:59', 1, 3$$, '1'),
	(18, 'as_of 10000-01-01', $$1, '10000-01-01', 1, 3$$, '1'),
	(19, 'as_of infinity', $$1, 'infinity', 1, 3$$, '1'),
	(20, 'as_of -infinity', $$1, '-infinity', 1, 3$$, '1')) c(k, cell, args, id)
 WHERE n > 0 OR k NOT IN (3, 7, 9, 14)
 ORDER BY k, n, f;

-- row numbers up to the largest bigint are fine; the first one past it is not
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('orders numbered up to the largest bigint', $$SELECT max(order_id) FROM crm.demo_order_rows(1, '2025-01-01', 1, 1, 9223372036854775807 - 31)$$),
	('one more order', $$SELECT max(order_id) FROM crm.demo_order_rows(1, '2025-01-01', 1, 1, 9223372036854775807 - 30)$$),
	('incidents referring to orders numbered past it', $$SELECT count(*) FROM crm.demo_incident_rows(1, '2025-01-01', 1, 100, 9223372036854775807, 1)$$),
	('the rows of the largest client id', $$SELECT max(client_id) FROM crm.demo_order_rows(1, '2025-01-01', 9223372036854775806, 9223372036854775807, 1)$$)
) AS t(cell, q);

-- crm.generate_demo_data(clients, seed, as_of, allow_future) writes
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('null clients', $$SELECT count(*) FROM crm.generate_demo_data(NULL)$$),
	('null seed', $$SELECT count(*) FROM crm.generate_demo_data(2, NULL)$$),
	('null as_of', $$SELECT count(*) FROM crm.generate_demo_data(2, 1, NULL)$$),
	('negative clients', $$SELECT count(*) FROM crm.generate_demo_data(-1)$$),
	('zero clients', $$SELECT count(*) FROM crm.generate_demo_data(0)$$),
	('huge clients', $$SELECT count(*) FROM crm.generate_demo_data(2147483647)$$),
	('as_of infinity', $$SELECT count(*) FROM crm.generate_demo_data(2, 1, 'infinity')$$),
	('as_of -infinity', $$SELECT count(*) FROM crm.generate_demo_data(2, 1, '-infinity')$$),
	('as_of 1900', $$SELECT count(*) FROM crm.generate_demo_data(2, 1, '1900-01-01')$$),
	('null allow_future', $$SELECT count(*) FROM crm.generate_demo_data(2, 1, '2025-01-01', NULL)$$),
	('as_of in the future', $$SELECT count(*) FROM crm.generate_demo_data(2, 1, '2099-01-01')$$),
	('two clients, the smallest seed, the last as_of, on purpose', $$SELECT string_agg(table_name || ' ' || (row_count > 0), ', ' ORDER BY table_name) FROM crm.generate_demo_data(2, -9223372036854775808, '9999-12-31 23:59:59+00', allow_future => true)$$),
	('the tolerance is back as it was', $$SELECT current_setting('crm.future_tolerance')$$),
	('again: the clients are there', $$SELECT count(*) FROM crm.generate_demo_data(2)$$),
	('demo_households: null programme', $$SELECT crm.demo_households(NULL)$$),
	('demo_households: unknown programme', $$SELECT crm.demo_households('')$$)
) AS t(cell, q);

ROLLBACK;
SELECT pg_temp.sequences_unchanged();
