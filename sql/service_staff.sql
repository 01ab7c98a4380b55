--
-- Service levels (the first matching level by rank sets an incident's due
-- times; crm.sla_report judges them) and staff results
-- (crm.staff_performance), on a handful of rows whose answers are known.
--
SET TimeZone = 'UTC';
-- the tables emptied for this transaction (the helpers of the edges_* tests)
\set ECHO none
\i sql/include/edges.sql
\set ECHO all
BEGIN;
SELECT count(*) AS emptied FROM (SELECT pg_temp.empty_crm()) x;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN st || ': ' || msg;
END $$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;

-- clients: 9901 a person of anna, 9902 a company of boris, 9903 a person of
-- anna in the segment Champions, 9904 nobody's
CREATE ROLE sla_anna IN ROLE crm_manager;
CREATE ROLE sla_boris IN ROLE crm_manager;
INSERT INTO crm.clients (client_id, kind, first_name, company_name, owner) VALUES
	(9901, 'person', 'Ada', NULL, 'sla_anna'),
	(9902, 'company', NULL, 'Bolt Ltd', 'sla_boris'),
	(9903, 'person', 'Cleo', NULL, 'sla_anna'),
	(9904, 'person', 'Dan', NULL, NULL);
INSERT INTO crm.client_segments (client_id, rfm_segment, churn_status, since)
VALUES (9903, 'Champions', 'active', '2024-01-01 00:00+00');

-- no level yet: the incident keeps its due_at NULL
INSERT INTO crm.incidents (client_id, incident_id, opened_at, channel, subject)
VALUES (9901, 1, '2024-03-01 09:00+00', 'phone', 'before any level');

INSERT INTO crm.service_levels (code, name, rank, rfm_segment, client_kind, incident_priority,
								response_time, resolution_time, active) VALUES
	('vip', 'Champions', 10, 'Champions', NULL, NULL, '1 hour', '4 hours', true),
	('business', 'Companies', 20, NULL, 'company', NULL, '2 hours', '8 hours', true),
	('urgent', 'Urgent', 30, NULL, NULL, 'urgent', '1 hour', '2 hours', true),
	('retired', 'Retired', 35, NULL, NULL, NULL, '1 minute', '1 minute', false),
	('standard', 'Everybody else', 40, NULL, NULL, NULL, '1 day', '3 days', true);

-- which level each would get: first match by rank, inactive skipped
SELECT c.client_id, p.priority, (crm.service_level_for(c.client_id, p.priority)).code
  FROM (VALUES (9901), (9902), (9903)) c(client_id)
 CROSS JOIN (VALUES ('normal'), ('urgent')) p(priority)
 ORDER BY 1, 2;

INSERT INTO crm.incidents (client_id, incident_id, opened_at, channel, subject, priority,
						   assignee, due_at, service_level_id, status, resolved_at, responded_at) VALUES
	-- vip: 4 hours; resolved in 3: met; answered in 30 minutes: met
	(9903, 2, '2024-03-01 09:00+00', 'phone', 'a', 'normal', 'sla_carl', NULL, NULL,
	 'resolved', '2024-03-01 12:00+00', '2024-03-01 09:30+00'),
	-- business (rank 20 before urgent 30): 8 hours; resolved in 10: breached
	(9902, 3, '2024-03-01 09:00+00', 'email', 'b', 'urgent', 'sla_carl', NULL, NULL,
	 'closed', '2024-03-01 19:00+00', NULL),
	-- urgent: 2 hours; still open at the end of the period: breached
	(9901, 4, '2024-03-02 09:00+00', 'email', 'c', 'urgent', 'sla_dora', NULL, NULL,
	 'open', NULL, NULL),
	-- standard: 3 days from 2024-03-30 12:00, open at 2024-04-01: open
	(9901, 5, '2024-03-30 12:00+00', 'email', 'd', 'normal', 'sla_dora', NULL, NULL,
	 'in_progress', NULL, '2024-03-30 13:00+00'),
	-- the application's own due_at: no level
	(9904, 6, '2024-03-03 09:00+00', 'chat', 'e', 'normal', NULL, '2024-03-04 09:00+00', NULL,
	 'resolved', '2024-03-03 10:00+00', NULL),
	-- a level named by the application: its times
	(9904, 7, '2024-03-03 09:00+00', 'chat', 'f', 'low', NULL, NULL,
	 (SELECT level_id FROM crm.service_levels WHERE code = 'urgent'),
	 'resolved', '2024-03-03 10:00+00', NULL),
	-- resolved after the period ends: judged open (past due) at to_at
	(9901, 8, '2024-03-31 20:00+00', 'phone', 'g', 'urgent', 'sla_dora', NULL, NULL,
	 'resolved', '2024-04-01 01:00+00', NULL);

SELECT i.incident_id, l.code AS level, i.response_due_at, i.due_at
  FROM crm.incidents i LEFT JOIN crm.service_levels l ON l.level_id = i.service_level_id
 WHERE i.client_id BETWEEN 9901 AND 9904 ORDER BY 1;

SELECT * FROM crm.sla_report('2024-03-01 00:00+00', '2024-04-01 00:00+00');
-- the whole period at once: every incident counted once
SELECT sum(incidents) AS incidents,
	   sum(resolution_met + resolution_breached + resolution_open + without_due) AS judged
  FROM crm.sla_report('2024-03-01 00:00+00', '2024-04-01 00:00+00');

-- errors
SELECT pg_temp.try($$SELECT crm.service_level_for(9901, 'soon')$$);
SELECT pg_temp.try($$SELECT crm.service_level_for(9999, 'normal')$$);
SELECT pg_temp.try($$SELECT crm.service_level_for(NULL, 'normal')$$);
SELECT pg_temp.try($$SELECT * FROM crm.sla_report('2024-04-01', '2024-03-01')$$);
SELECT pg_temp.try($$SELECT * FROM crm.sla_report('2024-03-01', 'infinity')$$);
SELECT pg_temp.try($$SELECT * FROM crm.sla_report(NULL, '2024-03-01')$$);
SELECT pg_temp.try($$INSERT INTO crm.service_levels (code, name, rank, response_time, resolution_time) VALUES ('x', 'x', 99, '2 hours', '1 hour')$$);
SELECT pg_temp.try($$INSERT INTO crm.service_levels (code, name, rank, tier_code, response_time, resolution_time) VALUES ('x', 'x', 99, 'gold', '1 hour', '2 hours')$$);

-- the trigger leaves a bad row to the table's own checks and keys
SELECT pg_temp.try($$INSERT INTO crm.incidents (client_id, channel, subject, priority) VALUES (9901, 'email', 'x', 'whenever')$$) AS bad_priority;
SELECT pg_temp.try($$INSERT INTO crm.incidents (client_id, channel, subject) VALUES (9999, 'email', 'x')$$) AS no_client;

-- a manager sees their own clients' incidents only
SET LOCAL ROLE sla_anna;
SELECT service_level, channel, assignee, incidents FROM crm.sla_report('2024-03-01 00:00+00', '2024-04-01 00:00+00');
SELECT pg_temp.try($$SELECT crm.service_level_for(9902, 'normal')$$) AS not_hers;
SELECT pg_temp.try($$INSERT INTO crm.incidents (client_id, channel, subject) VALUES (9902, 'email', 'x')$$) AS insert_not_hers;
SELECT pg_temp.try($$INSERT INTO crm.incidents (client_id, incident_id, opened_at, channel, subject) VALUES (9901, 99, '2024-03-05 09:00+00', 'email', 'hers')$$) AS insert_hers;
SELECT incident_id, (SELECT code FROM crm.service_levels l WHERE l.level_id = i.service_level_id), due_at FROM crm.incidents i WHERE incident_id = 99;
RESET ROLE;

/*
 * Staff results.  Purchases in March 2024:
 *   9901 (anna): 100.00 on 03-05 (her first ever), 50.00 on 03-20 (again)
 *   9903 (anna): 30.00 on 03-10, after one in February (again)
 *   9902 (boris): 200.00 on 03-15, first ever; a cancelled 999.00 (not a purchase)
 *   9904 (nobody): 10.00 on 03-01
 * handled_by: the latest interaction with a handled_by linked to the order.
 */
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount) VALUES
	(9903, 99030, '2024-02-10 10:00+00', 'store', 'paid', 40, 40),
	(9901, 99011, '2024-03-05 10:00+00', 'store', 'paid', 100, 100),
	(9901, 99012, '2024-03-20 10:00+00', 'web', 'placed', 50, 50),
	(9903, 99031, '2024-03-10 10:00+00', 'store', 'paid', 30, 30),
	(9902, 99021, '2024-03-15 10:00+00', 'phone', 'paid', 200, 200),
	(9902, 99022, '2024-03-16 10:00+00', 'phone', 'cancelled', 999, 999),
	(9904, 99041, '2024-03-01 10:00+00', 'web', 'paid', 10, 10);
INSERT INTO crm.interactions (client_id, occurred_at, channel, kind, direction, handled_by, order_id) VALUES
	(9901, '2024-03-05 10:00+00', 'store', 'sale', 'inbound', 'sla_boris', 99011),
	(9901, '2024-03-05 11:00+00', 'phone', 'call', 'outbound', 'sla_anna', 99011),
	(9901, '2024-03-05 12:00+00', 'email', 'email', 'outbound', NULL, 99011),
	(9903, '2024-03-10 10:00+00', 'store', 'sale', 'inbound', 'sla_anna', 99031),
	(9902, '2024-03-15 10:00+00', 'phone', 'sale', 'inbound', 'sla_boris', 99021);
-- segment moves logged in March (and one in April, outside)
INSERT INTO crm.segment_transitions (client_id, as_of, dimension, from_value, to_value) VALUES
	(9901, '2024-03-02 00:00+00', 'rfm_segment', NULL, 'New'),
	(9901, '2024-03-21 00:00+00', 'rfm_segment', 'New', 'Promising'),
	(9901, '2024-03-21 00:00+00', 'churn_status', 'slipping', 'active'),
	(9903, '2024-03-11 00:00+00', 'churn_status', 'active', 'lapsed'),
	(9902, '2024-03-11 00:00+00', 'rfm_segment', 'Lost', 'Champions'),
	(9902, '2024-04-02 00:00+00', 'rfm_segment', 'Champions', 'Loyal');

SELECT * FROM crm.staff_performance('2024-03-01 00:00+00', '2024-04-01 00:00+00');
SELECT * FROM crm.staff_performance('2024-03-01 00:00+00', '2024-04-01 00:00+00', 'handled_by');

-- a manager: their own row only (and only their own clients counted)
SET LOCAL ROLE sla_anna;
SELECT staff, revenue, purchases, clients_served FROM crm.staff_performance('2024-03-01 00:00+00', '2024-04-01 00:00+00');
SELECT staff, revenue, purchases, clients_served FROM crm.staff_performance('2024-03-01 00:00+00', '2024-04-01 00:00+00', 'handled_by');
RESET ROLE;
SET LOCAL ROLE sla_boris;
SELECT staff, revenue, purchases, clients_served FROM crm.staff_performance('2024-03-01 00:00+00', '2024-04-01 00:00+00');
RESET ROLE;
-- the analyst sees every row
SET LOCAL ROLE crm_analyst;
SELECT count(*) AS analyst_rows FROM crm.staff_performance('2024-03-01 00:00+00', '2024-04-01 00:00+00');
RESET ROLE;

SELECT pg_temp.try($$SELECT * FROM crm.staff_performance('2024-03-01', '2024-04-01', 'seller')$$);
SELECT pg_temp.try($$SELECT * FROM crm.staff_performance('2024-04-01', '2024-03-01')$$);
SELECT pg_temp.try($$SELECT * FROM crm.staff_performance('2024-03-01', '2024-04-01', NULL)$$);
-- an empty period: no row
SELECT count(*) FROM crm.staff_performance('2030-01-01', '2030-01-01');
ROLLBACK;
