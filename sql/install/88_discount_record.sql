/*
 * crm.record_priced_cart: turns a quote from crm.price_cart into an order,
 * its lines, the rules it used and the per-client use counts, in one
 * transaction.  What was quoted is what is stored: the cart is priced
 * again under the client's row lock and must give exactly the quote.
 * Points paid are redeemed with crm.redeem_points from the quote's loyalty
 * programme, in the same transaction; the points the bonus rules earn are
 * kept with the order (crm.order_discounts.program_id) for
 * crm.award_order_points to credit once the order is paid.
 */
CREATE FUNCTION crm.record_priced_cart(quote jsonb, channel text DEFAULT 'web',
									   status text DEFAULT 'placed',
									   external_ref text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	c			bigint;
	at			timestamptz;
	now_quote	jsonb;
	oid			bigint;
	lists		integer[];
	diff		text;
	u			record;
	n			integer;
	f			text;
	paid		bigint;
BEGIN
	IF quote IS NULL THEN
		RAISE EXCEPTION 'quote must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF channel IS NULL THEN
		RAISE EXCEPTION 'channel must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF status IS NULL THEN
		RAISE EXCEPTION 'status must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm.refuse_in_citus_task('crm.record_priced_cart');
	IF jsonb_typeof(quote) <> 'object' THEN
		RAISE EXCEPTION 'quote must be the jsonb object crm.price_cart returns'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOREACH f IN ARRAY ARRAY['client_id', 'at', 'cart', 'lines', 'rules', 'totals'] LOOP
		IF NOT quote ? f THEN
			RAISE EXCEPTION 'quote: field "%" is missing', f
				USING ERRCODE = 'invalid_parameter_value',
					  HINT = 'Pass the jsonb crm.price_cart returned, unchanged.';
		END IF;
	END LOOP;
	IF status NOT IN ('placed', 'paid') THEN
		RAISE EXCEPTION 'status must be placed or paid, not %', status
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	c := (quote ->> 'client_id')::bigint;
	at := (quote ->> 'at')::timestamptz;
	paid := (quote #>> '{totals,points_paid}')::bigint;
	-- points paid are redeemed from the quote's loyalty programme
	IF paid > 0 AND quote ->> 'program' IS NULL THEN
		RAISE EXCEPTION 'quote: the cart pays % points but has no loyalty "program" to redeem them from', paid
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- one recording per client at a time; the quote is checked under the lock
	PERFORM 1 FROM crm.clients k WHERE k.client_id = c FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'client % does not exist', c USING ERRCODE = 'no_data_found';
	END IF;

	-- a retried call with the same external_ref returns the first order
	IF external_ref IS NOT NULL THEN
		SELECT o.order_id INTO oid FROM crm.orders o
		 WHERE o.client_id = c AND o.external_ref = record_priced_cart.external_ref
		 ORDER BY o.order_id LIMIT 1;
		IF FOUND THEN
			RETURN oid;
		END IF;
	END IF;

	now_quote := crm.price_cart(c, quote -> 'cart', at);
	IF now_quote IS DISTINCT FROM quote THEN
		SELECT format('rule "%s" was %s, is now %s',
					  coalesce(q ->> 'code', p ->> 'code'),
					  coalesce(q ->> 'status' || coalesce(' ' || (q ->> 'amount'), '')
							   || coalesce(' ' || (q ->> 'points') || ' points', ''), 'absent'),
					  coalesce(p ->> 'status' || coalesce(' ' || (p ->> 'amount'), '')
							   || coalesce(' ' || (p ->> 'points') || ' points', '')
							   || coalesce(' (' || (p ->> 'reason') || ')', ''), 'absent'))
		  INTO diff
		  FROM jsonb_array_elements(quote -> 'rules') q
		  FULL JOIN jsonb_array_elements(now_quote -> 'rules') p ON p -> 'rule_id' = q -> 'rule_id'
		 WHERE q IS DISTINCT FROM p
		 ORDER BY coalesce(q -> 'rule_id', p -> 'rule_id')
		 LIMIT 1;
		IF diff IS NULL AND quote -> 'totals' IS DISTINCT FROM now_quote -> 'totals' THEN
			diff := format('totals were %s, are now %s', quote -> 'totals', now_quote -> 'totals');
		END IF;
		IF diff IS NULL THEN
			SELECT format('line %s was discount %s net %s, is now discount %s net %s',
						  coalesce(q ->> 'line', p ->> 'line'), q ->> 'discount', q ->> 'net',
						  p ->> 'discount', p ->> 'net')
			  INTO diff
			  FROM jsonb_array_elements(quote -> 'lines') WITH ORDINALITY AS x(q, qn)
			  FULL JOIN jsonb_array_elements(now_quote -> 'lines') WITH ORDINALITY AS y(p, pn) ON pn = qn
			 WHERE q IS DISTINCT FROM p
			 ORDER BY coalesce(qn, pn)
			 LIMIT 1;
		END IF;
		RAISE EXCEPTION 'quote for client % is out of date: %', c,
			coalesce(diff, 'it differs from the cart priced now')
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Price the cart again with crm.price_cart.';
	END IF;

	SELECT array_agg(DISTINCT (l ->> 'price_list_id')::integer) INTO lists
	  FROM jsonb_array_elements(quote -> 'lines') l;

	INSERT INTO crm.orders (client_id, ordered_at, channel, status, price_list_id, currency,
							gross_amount, discount_amount, net_amount, cost_amount,
							promo_used, points_paid, external_ref)
	SELECT c, at, record_priced_cart.channel, record_priced_cart.status,
		   CASE WHEN cardinality(lists) = 1 THEN lists[1] END,
		   quote ->> 'currency',
		   (quote #>> '{totals,gross}')::numeric,
		   (quote #>> '{totals,discount}')::numeric,
		   (quote #>> '{totals,net}')::numeric,
		   (SELECT sum((l ->> 'cost')::numeric) FROM jsonb_array_elements(quote -> 'lines') l),
		   (quote #>> '{totals,discount}')::numeric > 0,
		   (quote #>> '{totals,points_paid}')::bigint,
		   record_priced_cart.external_ref
	RETURNING order_id INTO oid;

	INSERT INTO crm.order_lines (client_id, order_id, line_no, product_id, quantity, unit_price,
								 gross_amount, discount_amount, net_amount, cost_amount)
	SELECT c, oid, (l ->> 'line')::integer, (l ->> 'product_id')::bigint,
		   (l ->> 'quantity')::numeric, (l ->> 'unit_price')::numeric,
		   (l ->> 'gross')::numeric, (l ->> 'discount')::numeric,
		   (l ->> 'net')::numeric, (l ->> 'cost')::numeric
	  FROM jsonb_array_elements(quote -> 'lines') l;

	-- the rules' earned points go to the quote's programme, when it has one
	INSERT INTO crm.order_discounts (client_id, order_id, rule_id, amount, points, program_id)
	SELECT c, oid, (r ->> 'rule_id')::bigint, coalesce((r ->> 'amount')::numeric, 0),
		   coalesce((r ->> 'points')::bigint, 0),
		   CASE WHEN r ->> 'action' IN ('cashback', 'points_multiplier')
				THEN (SELECT p.program_id FROM crm.loyalty_programs p WHERE p.code = quote ->> 'program') END
	  FROM jsonb_array_elements(quote -> 'rules') r
	 WHERE r ->> 'status' = 'applied';

	-- count the uses, in rule order; a limited rule only while below its limit
	FOR u IN
		SELECT d.rule_id, d.code, d.uses_per_client
		  FROM crm.order_discounts od
		  JOIN crm.discount_rules d ON d.rule_id = od.rule_id
		 WHERE od.client_id = c AND od.order_id = oid
		 ORDER BY d.rule_id
	LOOP
		INSERT INTO crm.discount_usage AS du (client_id, rule_id, uses, last_used_at)
		VALUES (c, u.rule_id, 1, at)
		ON CONFLICT (client_id, rule_id) DO UPDATE
			SET uses = du.uses + 1,
				last_used_at = greatest(du.last_used_at, excluded.last_used_at)
			WHERE u.uses_per_client IS NULL OR du.uses < u.uses_per_client
		RETURNING du.uses INTO n;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'discount rule "%" was already used % times by client %', u.code,
				u.uses_per_client, c
				USING ERRCODE = 'check_violation';
		END IF;
	END LOOP;

	IF paid > 0 THEN
		PERFORM crm.redeem_points(c, quote ->> 'program', paid, format('crm order %s', oid),
								  oid, 'paid with points when the order was recorded');
	END IF;

	RETURN oid;
END
$$;
COMMENT ON FUNCTION crm.record_priced_cart(jsonb, text, text, text) IS 'stores a quote of crm.price_cart as an order with its lines, the rules it used and their per-client use counts, after pricing the cart again under the client''s lock: an out-of-date quote is refused; a repeated external_ref returns the first order; points paid are redeemed from the quote''s loyalty programme with crm.redeem_points';
