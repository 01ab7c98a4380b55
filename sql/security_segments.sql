--
-- The segment snapshot is written by the owner's functions only: the
-- analyst refreshes it through crm.refresh_segments, but can neither
-- write its tables nor rewind it; the application does not read it.
--
SET TimeZone = 'UTC';
BEGIN;
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
INSERT INTO crm.clients (client_id, first_name) VALUES (9801, 'Eve');
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (9801, 9801, '2025-01-01', 'web', 'paid', 10, 10);

SET LOCAL ROLE crm_analyst;
SELECT clients > 0 AS analyst_refreshes FROM crm.refresh_segments(now());
SELECT count(*) > 0 AS analyst_reads FROM crm.segment_transitions;
SELECT pg_temp.try($$DELETE FROM crm.segment_transitions$$) AS delete_log;
SELECT pg_temp.try($$UPDATE crm.client_segments SET rfm_segment = 'Champions'$$) AS update_segments;
SELECT pg_temp.try($$INSERT INTO crm.segment_refreshes (as_of, clients, transitions) VALUES ('2300-01-01', 0, 0)$$) AS insert_refresh;
SELECT pg_temp.try($$TRUNCATE crm.client_segments$$) AS truncate_segments;
SELECT pg_temp.try($$SELECT crm.rewind_segments('2000-01-01')$$) AS rewind;
RESET ROLE;

SET LOCAL ROLE crm_admin;
SELECT pg_temp.try($$DELETE FROM crm.segment_transitions$$) AS admin_delete_log;
SELECT count(*) >= 0 AS admin_reads FROM crm.segment_rewinds;
RESET ROLE;

SET LOCAL ROLE crm_app;
-- the application reads a client's RFM segment (crm.price_cart prices with
-- it), not the churn status or the behavioural class
SELECT pg_temp.try($$SELECT count(churn_status) FROM crm.client_segments$$) AS app_reads_churn_status;
SELECT pg_temp.try($$SELECT count(rfm_segment) FROM crm.client_segments$$) AS app_reads_rfm_segment;
SELECT pg_temp.try($$SELECT count(*) FROM crm.segment_transitions$$) AS app_reads_log;
SELECT pg_temp.try($$SELECT count(*) FROM crm.segment_refreshes$$) AS app_reads_refreshes;
SELECT pg_temp.try($$SELECT * FROM crm.refresh_segments(now())$$) AS app_refreshes;
RESET ROLE;
ROLLBACK;
