--
-- Money in one currency at a time: the analytics add and compare amounts of
-- one currency only (crm.one_currency); purchases in more than one are
-- refused with SQLSTATE 0A000, naming two of the currencies; one currency
-- other than the default works as the default does.  The clients and
-- orders here are in 1980, before those of the other tests.
--
SET TimeZone = 'UTC';
-- the fast path's counters are per process: keep the calls in this one
-- (also when the suite runs with debug_parallel_query)
SET max_parallel_workers_per_gather = 0;
BEGIN;
\set ON_ERROR_ROLLBACK on
INSERT INTO crm.clients (client_id, first_name, acquisition_channel, acquisition_cost, created_at)
SELECT g, 'money ' || g, 'email', 10, '1980-01-01' FROM generate_series(990001, 990004) g;
INSERT INTO crm.orders (client_id, ordered_at, channel, currency, gross_amount, net_amount, cost_amount)
VALUES (990001, '1980-02-01', 'web', 'USD', 10, 10, 5),
	   (990001, '1980-03-01', 'web', 'USD', 30, 30, 10),
	   (990002, '1980-02-10', 'web', 'USD', 20, 20, 5),
	   (990003, '1980-02-20', 'web', 'USD', 40, 40, 5),
	   (990003, '1980-04-20', 'web', 'USD', 25, 25, 5),
	   (990003, '1980-05-02', 'web', 'USD', 25, 25, 5);

-- the aggregate itself
SELECT crm.one_currency(c) AS one FROM (VALUES ('USD'), ('USD'), (NULL)) v(c);
SELECT crm.one_currency(c) AS none FROM (VALUES (NULL::text)) v(c);
SELECT crm.one_currency(c) FROM (VALUES ('USD'), ('EUR'), ('USD')) v(c);

-- every order in USD: the analytics work as with EUR, the C path included
SELECT crm.fast_path_stats_reset();
SELECT client_id, frequency, monetary, rfm FROM crm.rfm_scores('1980-06-01') ORDER BY 1;
SELECT count(*) AS same_as_twin
  FROM (SELECT * FROM crm.rfm_scores('1980-06-01')
		EXCEPT SELECT * FROM crm.rfm_scores_sql('1980-06-01')) d;
SELECT client_id, purchases, monetary, status FROM crm.churn_signals('1980-06-01') ORDER BY 1;
SELECT function, path, reason, calls FROM crm.fast_path_stats() ORDER BY 1, 2;
SELECT client_id, revenue, abc FROM crm.abc_analysis('1980-06-01') ORDER BY 1;
SELECT client_id, (profile).total_spend FROM crm.client_profiles('1980-06-01') ORDER BY 1;
SELECT client_id, frequency, revenue, margin FROM crm.clv_summary('1980-06-01') ORDER BY 1;
SELECT crm.client_card(990001) #> '{orders,currency}' AS card_currency,
	   crm.client_card(990004) #> '{orders,currency}' AS no_purchase;
SELECT client_id, revenue, currency FROM crm.client_overview
 WHERE client_id >= 990001 ORDER BY 1;

-- a purchase in EUR besides: refused, and the C path hands the call to SQL
INSERT INTO crm.orders (client_id, ordered_at, channel, currency, gross_amount, net_amount)
VALUES (990002, '1980-03-15', 'web', 'EUR', 15, 15);
SELECT crm.fast_path_stats_reset();
SELECT * FROM crm.rfm_scores('1980-06-01');
SELECT * FROM crm.rfm_scores_sql('1980-06-01');
SELECT * FROM crm.churn_signals('1980-06-01');
SELECT * FROM crm.churn_signals_sql('1980-06-01');
SELECT function, path, reason, calls FROM crm.fast_path_stats() ORDER BY 1, 2;
SELECT * FROM crm.abc_analysis('1980-06-01');
SELECT * FROM crm.client_profiles('1980-06-01');
SELECT * FROM crm.clv_summary('1980-06-01');
SELECT * FROM crm.clv_report('1980-06-01', 30);
SELECT * FROM crm.ltv_cac('1980-06-01', 30);
-- no order lines here: nothing is added, so nothing is refused
SELECT * FROM crm.segment_category_revenue('1980-06-01');
SELECT crm.client_card(990002) -> 'orders';
SELECT revenue FROM crm.client_overview WHERE client_id = 990002;
-- a client with purchases in one currency is not concerned by another's
SELECT client_id, revenue, currency FROM crm.client_overview WHERE client_id = 990001;
-- the EUR order is in 1980-03: before it, one currency again
SELECT count(*) AS clients FROM crm.rfm_scores('1980-03-01');
-- a cancelled order in another currency is no purchase: not counted, not refused
UPDATE crm.orders SET status = 'cancelled' WHERE client_id = 990002 AND currency = 'EUR';
SELECT count(*) AS clients FROM crm.rfm_scores('1980-06-01');
ROLLBACK;
