--
-- Nothing irreversible by mistake: crm.future_tolerance.  Orders and
-- interactions (but scheduled ones) dated beyond now plus the tolerance
-- are refused; the jobs that write for a date refuse a later one unless
-- allow_future (the birthday jobs another day than today unless
-- allow_other_day); an order of the future earns nothing; a refresh of
-- the segments made for the future on purpose is taken back by
-- crm.rewind_segments.  (Named to run after the loyalty tests, whose
-- ledger identifiers its entries would shift.)
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, MDY';
BEGIN;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	-- times near now vary from run to run; those of 2099 and later do not
	RETURN st || ': ' || regexp_replace(msg, '20[2-4]\d-\d\d-\d\d( \d\d:\d\d:\d\d(\.\d+)?\+00)?', '<near now>', 'g');
END $$;
CREATE FUNCTION pg_temp.ledger() RETURNS text LANGUAGE sql AS $$
	SELECT format('entries %s, lots remaining %s, tier changes %s',
		(SELECT count(*) FROM crm.loyalty_ledger), (SELECT sum(remaining) FROM crm.loyalty_lots),
		(SELECT count(*) FROM crm.loyalty_tier_changes))
$$;

-- the setting (defined once crm's library is loaded): one hour by
-- default; a duration with a unit, -1 for no limit
SELECT crm.future_tolerance();
SHOW crm.future_tolerance;
-- (the range in the message is written differently from one PostgreSQL version to another)
SELECT split_part(pg_temp.try($$SET crm.future_tolerance = -2$$), ' (', 1) AS below_range;
SELECT pg_temp.try($$SET crm.future_tolerance = 'a week'$$);
SET crm.future_tolerance = '2d';
SELECT crm.future_tolerance();
SET crm.future_tolerance = -1;
SELECT crm.future_tolerance() IS NULL AS no_limit;
RESET crm.future_tolerance;

INSERT INTO crm.clients (client_id, first_name, birth_date) VALUES
	(9701, 'Ana', (current_date - interval '30 years')::date),
	(9702, 'Ben', (current_date + 3 - interval '30 years')::date);

--
-- orders dated 2207 are refused (22023, naming the time); within the
-- tolerance, and on purpose with the tolerance raised, they are not
--
SELECT pg_temp.try($$INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, gross_amount, net_amount)
	VALUES (9701, 9701, '2207-01-05', 'web', 10, 10)$$);
SELECT pg_temp.try($$INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, gross_amount, net_amount)
	VALUES (9701, 9702, now() + interval '30 minutes', 'web', 10, 10)$$);
SELECT pg_temp.try($$UPDATE crm.orders SET ordered_at = '2207-01-05' WHERE order_id = 9702$$);
SET crm.future_tolerance = 0;
SELECT pg_temp.try($$INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, gross_amount, net_amount)
	VALUES (9701, 9703, now() + interval '30 minutes', 'web', 10, 10)$$);
SET crm.future_tolerance = -1;
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
VALUES (9701, 9704, '2207-01-05', 'web', 'paid', 100, 100),
	   (9701, 9705, now() - interval '1 day', 'web', 'paid', 100, 100);
RESET crm.future_tolerance;
SELECT order_id, ordered_at > now() + interval '100 years' AS far_ahead FROM crm.orders
 WHERE client_id = 9701 ORDER BY order_id;

--
-- interactions: refused in the future, but a scheduled one; it cannot
-- become completed while it lies ahead
--
SELECT pg_temp.try($$INSERT INTO crm.interactions (client_id, occurred_at, channel, kind, direction)
	VALUES (9701, '2207-01-05', 'phone', 'call', 'outbound')$$);
SELECT pg_temp.try($$INSERT INTO crm.interactions (client_id, interaction_id, occurred_at, channel, kind, direction, outcome)
	VALUES (9701, 9701, now() + interval '7 days', 'phone', 'call', 'outbound', 'scheduled')$$);
SELECT pg_temp.try($$UPDATE crm.interactions SET outcome = 'completed' WHERE interaction_id = 9701$$);
SELECT pg_temp.try($$UPDATE crm.interactions SET outcome = 'completed', occurred_at = now() WHERE interaction_id = 9701$$);

--
-- an order of the future earns no points: award_order_points refuses it,
-- award_paid_orders leaves it for later, earn_points refuses it
--
INSERT INTO crm.loyalty_programs (program_id, code, name, cashback_percent, point_value, points_lifetime,
								  bonus_lifetime, birthday_points, tier_window)
VALUES (9701, 'fut', 'Future club', 10, 0.01, '365 days', '30 days', 300, '365 days');
INSERT INTO crm.loyalty_tiers (program_id, tier_code, name, threshold)
SELECT program_id, t.code, t.code, t.threshold FROM crm.loyalty_programs,
	   (VALUES ('base', 0), ('silver', 100)) t(code, threshold) WHERE loyalty_programs.code = 'fut';
SELECT tier_code FROM crm.open_loyalty_account(9701, 'fut');
SELECT tier_code FROM crm.open_loyalty_account(9702, 'fut');
UPDATE crm.loyalty_accounts SET opened_at = '2000-01-01' WHERE client_id IN (9701, 9702);
SELECT pg_temp.try($$SELECT crm.award_order_points(9701, 9704, 'fut')$$);
SELECT crm.award_paid_orders('fut') AS awarded;
SELECT order_id, points FROM crm.loyalty_ledger WHERE client_id = 9701 AND kind = 'earn' ORDER BY order_id;
SELECT pg_temp.try($$SELECT crm.earn_points(9701, 'fut', 5, 'for-9704', 9704)$$);

--
-- expire_points('2099-01-01') expired every lot for good: now refused,
-- nothing written; on purpose, it runs
--
SELECT pg_temp.ledger() AS before \gset
SELECT pg_temp.try($$SELECT crm.expire_points('2099-01-01')$$);
SELECT pg_temp.try($$SELECT crm.expire_points(now() + interval '2 hours', 'fut')$$);
SELECT pg_temp.ledger() = :'before' AS nothing_written;
SELECT * FROM crm.expire_points(now() + interval '400 days', 'fut', allow_future => true);

--
-- tiers: a move dated ahead would hold the tier until then
--
SELECT pg_temp.try($$SELECT crm.update_tier(9701, 'fut', '2099-01-01')$$);
SELECT pg_temp.try($$SELECT crm.update_tiers('fut', '2099-01-01')$$);
SELECT to_tier FROM crm.update_tier(9701, 'fut');

--
-- birthdays: three days early the job refused nothing and spent the
-- year's key; now it is refused, the key stays, and the day pays
--
SELECT pg_temp.try(format('SELECT crm.award_birthday_bonuses(%L, %L)', 'fut', current_date + 3));
SELECT pg_temp.try(format('SELECT crm.award_birthday_bonus(9702, %L, %L)', 'fut', current_date + 3));
SELECT pg_temp.try(format('SELECT crm.award_birthday_bonus(9701, %L, %L)', 'fut', current_date - 3));
SELECT count(*) AS birthday_entries FROM crm.loyalty_ledger
 WHERE client_id IN (9701, 9702) AND kind = 'birthday';
SELECT crm.award_birthday_bonuses('fut') AS paid_today;
SELECT crm.award_birthday_bonuses('fut', current_date + 3, allow_other_day => true) AS paid_on_purpose;
SELECT client_id, points, idempotency_key = 'crm:birthday:' || extract(year FROM current_date + 3) AS key_of_the_year
  FROM crm.loyalty_ledger WHERE client_id IN (9701, 9702) AND kind = 'birthday' ORDER BY client_id;

--
-- segments: refresh_segments('2205-01-05') refused every later refresh;
-- now refused itself; made on purpose, crm.rewind_segments takes it back
-- and restores the segments as they were
--
SELECT pg_temp.try($$SELECT crm.refresh_segments('2205-01-05')$$);
SELECT clients > 0 AS refreshed FROM crm.refresh_segments(now());
CREATE TEMP TABLE seg_before AS
SELECT client_id, rfm_segment, behaviour_class, churn_status, since FROM crm.client_segments;
SELECT count(*) AS transitions_before FROM crm.segment_transitions \gset
SELECT transitions > 0 AS changed FROM crm.refresh_segments('2205-01-05', allow_future => true);
SELECT pg_temp.try($$SELECT crm.refresh_segments(now())$$);
SELECT to_as_of = now() AS to_now, refreshes = ARRAY['2205-01-05'::timestamptz] AS what,
	   clients > 0 AS clients, transitions = (SELECT count(*) FROM crm.segment_transitions) - :transitions_before AS transitions,
	   made_by = session_user AS who
  FROM crm.rewind_segments(now());
SELECT count(*) = :transitions_before AS transitions_as_before FROM crm.segment_transitions;
SELECT count(*) AS differences FROM (
	(SELECT * FROM seg_before EXCEPT
	 SELECT client_id, rfm_segment, behaviour_class, churn_status, since FROM crm.client_segments)
	UNION ALL
	(SELECT client_id, rfm_segment, behaviour_class, churn_status, since FROM crm.client_segments
	 EXCEPT SELECT * FROM seg_before)) d;
SELECT count(*) FILTER (WHERE rfm IS NOT NULL) AS codes_until_next_refresh FROM crm.client_segments;
SELECT max(as_of) = now() AS latest_refresh_is_now FROM crm.segment_refreshes;
SELECT transitions AS later_refresh_changes FROM crm.refresh_segments(now() + interval '1 second');
SELECT count(*) FILTER (WHERE rfm IS NULL) AS codes_missing FROM crm.client_segments;
SELECT crm.rewind_segments(now() + interval '1 second') IS NULL AS nothing_to_rewind;

ROLLBACK;
