--
-- edges_service: service levels, staff results and the ledger check
-- (crm.service_level_for, crm.sla_report, crm.staff_performance,
-- crm.check_ledger) on NULL, empty, negative, zero, huge and infinite
-- input, row by row as docs/inputs.md tabulates them.  Everything runs in
-- one transaction that is rolled back.
--
SET TimeZone = 'UTC';
SET client_min_messages = warning;
\set SHOW_CONTEXT never
\i sql/include/edges.sql
BEGIN;
SELECT pg_temp.empty_crm();

-- empty tables
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('service_level_for: empty', $$SELECT (crm.service_level_for(1)).code$$),
	('sla_report: empty', $$SELECT count(*) FROM crm.sla_report('-infinity', '2025-01-01')$$),
	('staff_performance: empty', $$SELECT count(*) FROM crm.staff_performance('-infinity', '2025-01-01')$$),
	('check_ledger: empty', $$SELECT crm.check_ledger() IS NOT NULL$$)
) AS t(cell, q);

-- Ann (owner anna) with a purchase and an incident; one level for everybody
INSERT INTO crm.clients (client_id, first_name, owner, created_at, updated_at) VALUES
	(1, 'Ann', 'anna', '2024-01-01', '2024-01-01');
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (1, 1, '2024-02-01', 'web', 'paid', 10, 10);
INSERT INTO crm.service_levels (code, name, rank, response_time, resolution_time)
VALUES ('standard', 'Standard', 1, '1 day', '3 days');
INSERT INTO crm.incidents (client_id, incident_id, opened_at, channel, subject)
VALUES (1, 1, '2024-03-01', 'phone', 'Sizes');

-- crm.service_level_for(client_id, priority)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('a level', $$SELECT (crm.service_level_for(1)).code$$),
	('null client', $$SELECT crm.service_level_for(NULL)$$),
	('null priority', $$SELECT crm.service_level_for(1, NULL)$$),
	('empty priority', $$SELECT crm.service_level_for(1, '')$$),
	('negative client', $$SELECT crm.service_level_for(-1)$$),
	('zero client', $$SELECT crm.service_level_for(0)$$),
	('huge client', $$SELECT crm.service_level_for(9223372036854775807)$$)
) AS t(cell, q);
-- no active level: NULL, and an incident keeps its due_at NULL
UPDATE crm.service_levels SET active = false;
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('no level applies', $$SELECT crm.service_level_for(1) IS NULL$$)
) AS t(cell, q);
INSERT INTO crm.incidents (client_id, incident_id, opened_at, channel, subject)
VALUES (1, 2, '2024-03-02', 'phone', 'Colours');
SELECT incident_id, service_level_id, due_at FROM crm.incidents ORDER BY 1;

-- crm.sla_report(from_at, to_at)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('a report', $$SELECT string_agg(row(service_level, incidents, resolution_breached, response_breached, without_due)::text, ' ') FROM crm.sla_report('2024-01-01', '2024-04-01')$$),
	('null from', $$SELECT count(*) FROM crm.sla_report(NULL, '2024-04-01')$$),
	('null to', $$SELECT count(*) FROM crm.sla_report('2024-01-01', NULL)$$),
	('empty period', $$SELECT count(*) FROM crm.sla_report('2024-03-01', '2024-03-01')$$),
	('to before from', $$SELECT count(*) FROM crm.sla_report('2024-04-01', '2024-01-01')$$),
	('from -infinity', $$SELECT sum(incidents) FROM crm.sla_report('-infinity', '2024-04-01')$$),
	('to infinity', $$SELECT count(*) FROM crm.sla_report('2024-01-01', 'infinity')$$),
	('to -infinity', $$SELECT count(*) FROM crm.sla_report('-infinity', '-infinity')$$),
	('huge', $$SELECT sum(incidents) FROM crm.sla_report('4713-01-01 BC', '294276-12-31')$$)
) AS t(cell, q);

-- crm.staff_performance(from_at, to_at, by)
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('a row', $$SELECT row(staff, revenue, purchases)::text FROM crm.staff_performance('2024-01-01', '2024-04-01')$$),
	('by handled_by', $$SELECT row(staff, revenue, purchases)::text FROM crm.staff_performance('2024-01-01', '2024-04-01', 'handled_by')$$),
	('null from', $$SELECT count(*) FROM crm.staff_performance(NULL, '2024-04-01')$$),
	('null to', $$SELECT count(*) FROM crm.staff_performance('2024-01-01', NULL)$$),
	('null by', $$SELECT count(*) FROM crm.staff_performance('2024-01-01', '2024-04-01', NULL)$$),
	('empty by', $$SELECT count(*) FROM crm.staff_performance('2024-01-01', '2024-04-01', '')$$),
	('empty period', $$SELECT count(*) FROM crm.staff_performance('2024-02-01', '2024-02-01')$$),
	('to before from', $$SELECT count(*) FROM crm.staff_performance('2024-04-01', '2024-01-01')$$),
	('infinite', $$SELECT row(staff, revenue)::text FROM crm.staff_performance('-infinity', 'infinity')$$),
	('huge', $$SELECT row(staff, revenue)::text FROM crm.staff_performance('4713-01-01 BC', '294276-12-31')$$)
) AS t(cell, q);

-- crm.check_ledger(): clean, then an account whose cached balance is off
SELECT cell, pg_temp.v(q) AS result FROM (VALUES
	('clean', $$SELECT crm.check_ledger() IS NOT NULL$$)
) AS t(cell, q);
INSERT INTO crm.loyalty_programs (program_id, code, name, points_per_unit) VALUES (1, 'club', 'Club', 1);
INSERT INTO crm.loyalty_accounts (client_id, program_id, balance) VALUES (1, 1, 5);
SELECT cell, pg_temp.w(q) AS result FROM (VALUES
	('a broken balance', $$SELECT crm.check_ledger()$$)
) AS t(cell, q);

ROLLBACK;
SELECT pg_temp.sequences_unchanged();
