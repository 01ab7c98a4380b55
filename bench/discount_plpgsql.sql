--
-- bench/discount_plpgsql.sql: a PL/pgSQL evaluator equivalent to
-- crm.price_cart, written only for bench/discount_bench.sh.  Same rules,
-- same order (phase, rank, rule_id), same conditions, stack / stop /
-- exclusive, caps, bases, largest-remainder allocation, bonus rules and the
-- same explanation; cart validation is reduced to what the benchmark needs.
--
CREATE SCHEMA bench;

CREATE TYPE bench.rule AS (
	rule_id bigint, code text, rank integer, phase integer, action text, value bigint,
	cap bigint, stacking text, base_original boolean, price_list_id integer,
	category_id integer, win integer, min_order bigint, min_turnover bigint,
	crossing bigint, segment text, tier text, uses_limit integer, uses bigint,
	point_value bigint);

CREATE FUNCTION bench.eur(c bigint) RETURNS numeric
LANGUAGE sql IMMUTABLE AS $$ SELECT round(c / 100.0, 2) $$;

-- largest remainder: parts of total in proportion to w, ties by larger
-- weight then lower tie rank
CREATE FUNCTION bench.allocate(total bigint, w bigint[], ties integer[]) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	n		integer := cardinality(w);
	ws		numeric := 0;
	out		bigint[] := array_fill(0::bigint, ARRAY[n]);
	rem		numeric[] := array_fill(0::numeric, ARRAY[n]);
	lo		bigint := total;
	i		integer;
BEGIN
	FOR i IN 1 .. n LOOP
		ws := ws + w[i];
	END LOOP;
	IF ws = 0 THEN
		RETURN out;
	END IF;
	FOR i IN 1 .. n LOOP
		out[i] := div(total::numeric * w[i], ws);
		rem[i] := mod(total::numeric * w[i], ws);
		lo := lo - out[i];
	END LOOP;
	FOR i IN SELECT k FROM generate_series(1, n) k
			  ORDER BY rem[k] DESC, w[k] DESC, ties[k] LIMIT lo LOOP
		out[i] := out[i] + 1;
	END LOOP;
	RETURN out;
END
$$;

CREATE FUNCTION bench.price_cart_plpgsql(p_client bigint, cart jsonb, at timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, crm, bench, pg_temp
AS $$
DECLARE
	nl			integer;
	nr			integer;
	l_product	bigint[];
	l_list		integer[];
	l_qty		bigint[];
	l_price		bigint[];
	l_cost		bigint[];
	l_gross		bigint[];
	l_anc		text[];
	l_tie		integer[];
	rem			bigint[];
	stopped		integer[];
	save_rem	bigint[];
	save_stop	integer[];
	rules		bench.rule[];
	r			bench.rule;
	st			text[];		-- status per rule: C, A, S
	reason		text[];
	amount		bigint[];
	points		bigint[];
	capped		boolean[];
	covered_gross bigint[];
	amt			bigint[];	-- nr * nl
	mark		smallint[];	-- 0 none 1 covered 2 applied 3 stopped 4 nothing
	turnover	bigint;
	seg			text := cart ->> 'segment';
	tiers		text[];
	pts_paid	bigint := coalesce((cart ->> 'points_paid')::bigint, 0);
	i			integer;
	k			integer;
	idx			integer;
	a			bigint[];
	w			bigint[];
	act			boolean[];
	nact		integer;
	stopper		integer;
	total		bigint;
	base		numeric;
	lft			bigint;
	stack_total bigint;
	best		integer;
	gross_t		bigint := 0;
	disc_t		bigint := 0;
	net_t		bigint;
	share		integer := 0;
	share_money bigint := 0;
	mult		integer := 0;
	m			bigint;
	e			bigint;
	paid4		numeric := 0;
	b4			numeric;
	plain		bigint := 0;
	earned		bigint := 0;
	maxpts		bigint := 0;
	has_prog	boolean := false;
	prog		text;
	prog_cur	text;
	prog_tier	text;
	prog_pv		bigint;
	prog_n		bigint;
	prog_cap	bigint := 0;
	prog_earned bigint := 0;
	lines_out	jsonb := '[]';
	rules_out	jsonb[] := '{}';
	o			jsonb;
	ds			jsonb;
	sk			jsonb;
	lns			jsonb;
	cur			text;
BEGIN
	IF jsonb_typeof(cart) = 'array' THEN
		cart := jsonb_build_object('lines', cart);
		seg := NULL;
	END IF;
	IF cart ->> 'tier' IS NOT NULL THEN
		tiers := ARRAY[cart ->> 'tier'];
	END IF;

	SELECT array_agg(x.product_id ORDER BY x.ord), array_agg(x.price_list_id ORDER BY x.ord),
		   array_agg(x.qty ORDER BY x.ord), array_agg(x.price ORDER BY x.ord),
		   array_agg(x.cost ORDER BY x.ord), array_agg(x.anc ORDER BY x.ord), count(*),
		   min(x.currency), max(x.currency)
	  INTO l_product, l_list, l_qty, l_price, l_cost, l_anc, nl, cur, cur
	  FROM (SELECT e.ord, (e.v ->> 'product_id')::bigint AS product_id,
				   (e.v ->> 'price_list_id')::integer AS price_list_id,
				   ((e.v ->> 'quantity')::numeric * 1000)::bigint AS qty,
				   (pr.price * 100)::bigint AS price, (p.unit_cost * 100)::bigint AS cost,
				   pl.currency,
				   (WITH RECURSIVE up(id) AS (
						SELECT p.category_id
						UNION ALL
						SELECT k.parent_id FROM crm.categories k JOIN up ON k.category_id = up.id
						 WHERE k.parent_id IS NOT NULL)
					SELECT ',' || string_agg(id::text, ',') || ',' FROM up) AS anc
			  FROM jsonb_array_elements(cart -> 'lines') WITH ORDINALITY AS e(v, ord)
			  JOIN LATERAL (SELECT * FROM crm.products p WHERE p.product_id = (e.v ->> 'product_id')::bigint OFFSET 0) p ON true
			  JOIN LATERAL (SELECT * FROM crm.price_lists pl WHERE pl.price_list_id = (e.v ->> 'price_list_id')::integer OFFSET 0) pl ON true
			  JOIN LATERAL (SELECT * FROM crm.prices pr WHERE pr.price_list_id = pl.price_list_id AND pr.product_id = p.product_id OFFSET 0) pr ON true) x;
	IF nl IS DISTINCT FROM jsonb_array_length(cart -> 'lines') THEN
		RAISE EXCEPTION 'bad cart' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	l_gross := array_fill(0::bigint, ARRAY[nl]);
	FOR i IN 1 .. nl LOOP
		l_gross[i] := round(l_qty[i]::numeric * l_price[i] / 1000);
		l_cost[i] := round(l_qty[i]::numeric * l_cost[i] / 1000);
		gross_t := gross_t + l_gross[i];
	END LOOP;
	SELECT array_agg(t.n ORDER BY t.ord) INTO l_tie
	  FROM (SELECT ord, (row_number() OVER (ORDER BY l_product[ord], l_list[ord], l_qty[ord], ord))::integer AS n
			  FROM generate_series(1, nl) ord) t;

	IF NOT EXISTS (SELECT 1 FROM crm.clients c WHERE c.client_id = p_client) THEN
		RAISE EXCEPTION 'client % does not exist', p_client USING ERRCODE = 'no_data_found';
	END IF;
	SELECT (coalesce(sum(o2.net_amount), 0) * 100)::bigint INTO turnover
	  FROM crm.orders o2
	 WHERE o2.client_id = p_client AND o2.status IN ('placed', 'paid') AND o2.ordered_at < at;

	SELECT array_agg(ROW(d.rule_id, d.code, d.rank,
						 CASE WHEN d.action IN ('cashback', 'points_multiplier', 'points_share') THEN 2
							  WHEN d.level = 'order' THEN 1 ELSE 0 END,
						 d.action,
						 (CASE WHEN d.action = 'fixed' THEN d.value * 100 ELSE d.value * 10000 END)::bigint,
						 (d.cap * 100)::bigint, d.stacking, d.base = 'original', d.price_list_id, d.category_id,
						 CASE WHEN d.valid @> at THEN 0 WHEN d.valid >> tstzrange(at, at, '[]') THEN -1 ELSE 1 END,
						 (d.min_order_amount * 100)::bigint, (d.min_turnover * 100)::bigint,
						 (d.crossing_threshold * 100)::bigint, d.segment, d.tier, d.uses_per_client,
						 coalesce(u.uses, 0)::bigint, (d.point_value * 10000)::bigint)::bench.rule
					 ORDER BY CASE WHEN d.action IN ('cashback', 'points_multiplier', 'points_share') THEN 2
								   WHEN d.level = 'order' THEN 1 ELSE 0 END, d.rank, d.rule_id)
	  INTO rules
	  FROM crm.discount_rules d
	  LEFT JOIN crm.discount_usage u ON u.client_id = p_client AND u.rule_id = d.rule_id
	 WHERE d.active AND (d.client_id IS NULL OR d.client_id = p_client);
	nr := coalesce(cardinality(rules), 0);
	IF tiers IS NULL AND EXISTS (SELECT 1 FROM unnest(rules) x WHERE x.tier IS NOT NULL) THEN
		SELECT coalesce(array_agg(DISTINCT a.tier_code::text ORDER BY a.tier_code::text), '{}') INTO tiers
		  FROM crm.loyalty_accounts a JOIN crm.loyalty_programs lp ON lp.program_id = a.program_id
		 WHERE a.client_id = p_client AND a.tier_code IS NOT NULL
		   AND (cart ->> 'program' IS NULL OR lp.code = cart ->> 'program');
	END IF;

	st := array_fill('C'::text, ARRAY[greatest(nr, 1)]);
	reason := array_fill(NULL::text, ARRAY[greatest(nr, 1)]);
	amount := array_fill(0::bigint, ARRAY[greatest(nr, 1)]);
	points := array_fill(0::bigint, ARRAY[greatest(nr, 1)]);
	capped := array_fill(false, ARRAY[greatest(nr, 1)]);
	covered_gross := array_fill(0::bigint, ARRAY[greatest(nr, 1)]);
	amt := array_fill(0::bigint, ARRAY[greatest(nr * nl, 1)]);
	mark := array_fill(0::smallint, ARRAY[greatest(nr * nl, 1)]);

	-- 1. conditions
	FOR k IN 1 .. nr LOOP
		r := rules[k];
		IF r.win < 0 THEN
			st[k] := 'S'; reason[k] := 'outside its validity window: not started yet'; CONTINUE;
		ELSIF r.win > 0 THEN
			st[k] := 'S'; reason[k] := 'outside its validity window: ended'; CONTINUE;
		END IF;
		IF r.uses_limit IS NOT NULL AND r.uses >= r.uses_limit THEN
			st[k] := 'S'; reason[k] := format('used %s of %s times by this client', r.uses, r.uses_limit); CONTINUE;
		END IF;
		IF r.segment IS NOT NULL THEN
			IF seg IS NULL THEN
				st[k] := 'S'; reason[k] := format('needs segment "%s"; the client''s segment is not known', r.segment); CONTINUE;
			ELSIF seg <> r.segment THEN
				st[k] := 'S'; reason[k] := format('needs segment "%s"; the client is in "%s"', r.segment, seg); CONTINUE;
			END IF;
		END IF;
		IF r.tier IS NOT NULL THEN
			IF NOT r.tier = ANY (tiers) THEN
				st[k] := 'S';
				reason[k] := format('needs tier "%s"; ', r.tier)
					|| CASE WHEN cardinality(tiers) = 0 THEN 'the client has no tier'
							ELSE 'the client''s tier is ' || (SELECT string_agg(format('"%s"', t), ', ') FROM unnest(tiers) t) END;
				CONTINUE;
			END IF;
		END IF;
		IF r.min_turnover IS NOT NULL AND turnover < r.min_turnover THEN
			st[k] := 'S'; reason[k] := format('turnover to date %s is below %s', bench.eur(turnover), bench.eur(r.min_turnover)); CONTINUE;
		END IF;
		nact := 0;
		FOR i IN 1 .. nl LOOP
			IF (r.price_list_id IS NULL OR l_list[i] = r.price_list_id)
			   AND (r.category_id IS NULL OR position(',' || r.category_id || ',' IN l_anc[i]) > 0) THEN
				mark[(k - 1) * nl + i] := 1;
				covered_gross[k] := covered_gross[k] + l_gross[i];
				nact := nact + 1;
			END IF;
		END LOOP;
		IF nact = 0 THEN
			st[k] := 'S';
			reason[k] := CASE WHEN r.price_list_id IS NOT NULL AND r.category_id IS NOT NULL
							  THEN format('no line is on price list %s in category %s', r.price_list_id, r.category_id)
							  WHEN r.price_list_id IS NOT NULL THEN format('no line is on price list %s', r.price_list_id)
							  ELSE format('no line is in category %s', r.category_id) END;
			CONTINUE;
		END IF;
		IF r.min_order IS NOT NULL AND covered_gross[k] < r.min_order THEN
			FOR i IN 1 .. nl LOOP mark[(k - 1) * nl + i] := 0; END LOOP;
			st[k] := 'S'; reason[k] := format('order amount %s is below %s', bench.eur(covered_gross[k]), bench.eur(r.min_order)); CONTINUE;
		END IF;
		IF r.crossing IS NOT NULL THEN
			IF turnover >= r.crossing THEN
				FOR i IN 1 .. nl LOOP mark[(k - 1) * nl + i] := 0; END LOOP;
				st[k] := 'S'; reason[k] := format('turnover to date %s had already reached %s', bench.eur(turnover), bench.eur(r.crossing)); CONTINUE;
			ELSIF turnover + covered_gross[k] < r.crossing THEN
				FOR i IN 1 .. nl LOOP mark[(k - 1) * nl + i] := 0; END LOOP;
				st[k] := 'S';
				reason[k] := format('this order (%s) takes turnover %s to %s, below %s', bench.eur(covered_gross[k]),
									bench.eur(turnover), bench.eur(turnover + covered_gross[k]), bench.eur(r.crossing));
				CONTINUE;
			END IF;
		END IF;
	END LOOP;

	-- 2. the stack, and 3. exclusive rules (pass 0: stack, pass 1: each exclusive alone)
	rem := l_gross;
	stopped := array_fill(0, ARRAY[nl]);
	FOR pass IN 0 .. 1 LOOP
		IF pass = 1 THEN
			stack_total := 0;
			FOR i IN 1 .. nl LOOP stack_total := stack_total + l_gross[i] - rem[i]; END LOOP;
			save_rem := rem;
			save_stop := stopped;
			best := 0;
		END IF;
		FOR k IN 1 .. nr LOOP
			r := rules[k];
			CONTINUE WHEN r.phase = 2 OR st[k] <> 'C';
			CONTINUE WHEN (pass = 0) = (r.stacking = 'exclusive');
			IF pass = 1 THEN
				rem := l_gross;
				stopped := array_fill(0, ARRAY[nl]);
			END IF;
			a := array_fill(0::bigint, ARRAY[nl]);
			w := array_fill(0::bigint, ARRAY[nl]);
			act := array_fill(false, ARRAY[nl]);
			nact := 0;
			stopper := 0;
			FOR i IN 1 .. nl LOOP
				idx := (k - 1) * nl + i;
				CONTINUE WHEN mark[idx] = 0;
				amt[idx] := 0;
				IF stopped[i] > 0 THEN
					mark[idx] := 3; stopper := stopped[i];
				ELSIF rem[i] = 0 THEN
					mark[idx] := 4;
				ELSE
					mark[idx] := 1; act[i] := true; nact := nact + 1;
				END IF;
			END LOOP;
			IF nact = 0 THEN
				st[k] := 'S';
				reason[k] := CASE WHEN stopper > 0 THEN format('every line it covers is held by stop rule "%s"', rules[stopper].code)
								  ELSE 'nothing is left to discount on its lines' END;
				CONTINUE;
			END IF;
			total := 0;
			IF r.phase = 0 THEN
				FOR i IN 1 .. nl LOOP
					CONTINUE WHEN NOT act[i];
					IF r.action = 'percent' THEN
						a[i] := least(round((CASE WHEN r.base_original THEN l_gross[i] ELSE rem[i] END)::numeric * r.value / 1000000), rem[i]);
					ELSE
						a[i] := least(round(r.value::numeric * l_qty[i] / 1000), rem[i]);
					END IF;
					total := total + a[i];
				END LOOP;
				IF r.cap IS NOT NULL AND total > r.cap THEN
					a := allocate(r.cap, a, l_tie);
					total := r.cap;
					capped[k] := true;
				END IF;
			ELSE
				base := 0; lft := 0;
				FOR i IN 1 .. nl LOOP
					CONTINUE WHEN NOT act[i];
					base := base + CASE WHEN r.base_original THEN l_gross[i] ELSE rem[i] END;
					lft := lft + rem[i];
					w[i] := rem[i];
				END LOOP;
				total := CASE WHEN r.action = 'percent' THEN round(base * r.value / 1000000) ELSE r.value END;
				IF r.cap IS NOT NULL AND total > r.cap THEN
					total := r.cap; capped[k] := true;
				END IF;
				total := least(total, lft);
				a := allocate(total, w, l_tie);
			END IF;
			IF total = 0 THEN
				st[k] := 'S'; reason[k] := 'gives 0.00'; CONTINUE;
			END IF;
			FOR i IN 1 .. nl LOOP
				CONTINUE WHEN NOT act[i];
				idx := (k - 1) * nl + i;
				amt[idx] := a[i];
				mark[idx] := 2;
				rem[i] := rem[i] - a[i];
				IF r.stacking = 'stop' THEN stopped[i] := k; END IF;
			END LOOP;
			st[k] := 'A';
			amount[k] := total;
			IF pass = 1 AND (best = 0 OR total > amount[best]) THEN
				best := k;
			END IF;
		END LOOP;
	END LOOP;
	IF best > 0 AND amount[best] > stack_total THEN
		FOR k IN 1 .. nr LOOP
			CONTINUE WHEN k = best OR rules[k].phase = 2 OR st[k] <> 'A';
			st[k] := 'S';
			reason[k] := CASE WHEN rules[k].stacking = 'exclusive' AND amount[k] = amount[best]
							  THEN format('exclusive rule "%s" gives as much (%s) and comes first', rules[best].code, bench.eur(amount[best]))
							  WHEN rules[k].stacking = 'exclusive'
							  THEN format('exclusive rule "%s" gives more (%s, this rule %s)', rules[best].code, bench.eur(amount[best]), bench.eur(amount[k]))
							  ELSE format('excluded by exclusive rule "%s", which gives %s against %s from the other rules together',
										  rules[best].code, bench.eur(amount[best]), bench.eur(stack_total)) END;
			amount[k] := 0;
			FOR i IN 1 .. nl LOOP amt[(k - 1) * nl + i] := 0; mark[(k - 1) * nl + i] := 0; END LOOP;
		END LOOP;
		FOR i IN 1 .. nl LOOP
			rem[i] := l_gross[i] - amt[(best - 1) * nl + i];
			stopped[i] := 0;
		END LOOP;
	ELSIF stack_total IS NOT NULL THEN
		rem := save_rem;
		stopped := save_stop;
		FOR k IN 1 .. nr LOOP
			CONTINUE WHEN rules[k].phase = 2 OR rules[k].stacking <> 'exclusive' OR st[k] <> 'A';
			st[k] := 'S';
			reason[k] := format('exclusive: alone it gives %s, not more than %s from the other rules together',
								bench.eur(amount[k]), bench.eur(stack_total));
			amount[k] := 0;
			FOR i IN 1 .. nl LOOP amt[(k - 1) * nl + i] := 0; mark[(k - 1) * nl + i] := 0; END LOOP;
		END LOOP;
	END IF;
	FOR i IN 1 .. nl LOOP disc_t := disc_t + l_gross[i] - rem[i]; END LOOP;
	net_t := gross_t - disc_t;

	-- 4. bonus rules
	FOR k IN 1 .. nr LOOP
		CONTINUE WHEN rules[k].action <> 'points_share' OR st[k] <> 'C';
		e := 0;
		FOR i IN 1 .. nl LOOP
			IF mark[(k - 1) * nl + i] <> 0 THEN e := e + rem[i]; END IF;
		END LOOP;
		m := div(e::numeric * rules[k].value, 1000000);
		points[k] := div(m::numeric * 100, rules[k].point_value);
		IF share = 0 OR m > share_money THEN
			share := k; share_money := m;
		END IF;
	END LOOP;
	FOR k IN 1 .. nr LOOP
		CONTINUE WHEN rules[k].action <> 'points_share' OR st[k] <> 'C';
		IF k = share THEN
			st[k] := 'A';
		ELSE
			e := 0;
			FOR i IN 1 .. nl LOOP
				IF mark[(k - 1) * nl + i] <> 0 THEN e := e + rem[i]; END IF;
			END LOOP;
			st[k] := 'S';
			reason[k] := format('rule "%s" allows %s to be paid with points', rules[share].code,
								CASE WHEN div(e::numeric * rules[k].value, 1000000) = share_money
									 THEN 'as much, and comes first,' ELSE 'more' END);
			points[k] := 0;
		END IF;
	END LOOP;
	-- the loyalty programme: the cart's, or the client's only account's (in the
	-- cart's currency); its share bounds the points payable, a points_share rule
	-- may lower it; its own cashback comes on top of the rules' points
	IF cart ->> 'program' IS NOT NULL THEN
		SELECT p.code, p.currency, (p.point_value * 10000)::bigint INTO prog, prog_cur, prog_pv
		  FROM crm.loyalty_programs p WHERE p.code = cart ->> 'program';
		IF NOT FOUND THEN
			RAISE EXCEPTION 'cart: loyalty programme "%" does not exist', cart ->> 'program'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF prog_cur <> cur THEN
			RAISE EXCEPTION 'cart: loyalty programme "%" is in %, the cart in %', prog, prog_cur, cur
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		SELECT a.tier_code::text INTO prog_tier FROM crm.loyalty_accounts a
		  JOIN crm.loyalty_programs p ON p.program_id = a.program_id
		 WHERE a.client_id = p_client AND p.code = prog;
		has_prog := true;
	ELSE
		SELECT count(*), min(x.code), min(x.currency), min(x.tier_code), min(x.pv)
		  INTO prog_n, prog, prog_cur, prog_tier, prog_pv
		  FROM (SELECT p.code, p.currency, a.tier_code::text AS tier_code, (p.point_value * 10000)::bigint AS pv
				  FROM crm.loyalty_accounts a JOIN crm.loyalty_programs p ON p.program_id = a.program_id
				 WHERE a.client_id = p_client ORDER BY p.program_id LIMIT 2) x;
		has_prog := prog_n = 1 AND prog_cur = cur;
	END IF;
	IF has_prog THEN
		SELECT crm.loyalty_redeem_cap(p, net_t::numeric / 100),
			   crm.loyalty_earn(p, prog_tier, net_t::numeric / 100, pts_paid)
		  INTO prog_cap, prog_earned
		  FROM crm.loyalty_program_row(prog) p;
		maxpts := prog_cap;
		IF share > 0 AND points[share] < maxpts THEN
			maxpts := points[share];
		END IF;
	ELSE
		maxpts := CASE WHEN share > 0 THEN points[share] ELSE 0 END;
	END IF;
	IF pts_paid > maxpts THEN
		RAISE EXCEPTION 'cart: field "points_paid" asks for % points, at most % may be paid with points', pts_paid, maxpts
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF has_prog THEN
		paid4 := pts_paid::numeric * prog_pv;
	ELSIF share > 0 THEN
		paid4 := pts_paid::numeric * rules[share].point_value;
	END IF;
	FOR k IN 1 .. nr LOOP
		CONTINUE WHEN rules[k].action <> 'points_multiplier' OR st[k] <> 'C';
		IF mult = 0 OR rules[k].value > rules[mult].value THEN mult := k; END IF;
	END LOOP;
	FOR k IN 1 .. nr LOOP
		CONTINUE WHEN rules[k].action <> 'cashback' OR st[k] <> 'C';
		e := 0;
		FOR i IN 1 .. nl LOOP
			IF mark[(k - 1) * nl + i] <> 0 THEN e := e + rem[i]; END IF;
		END LOOP;
		b4 := e::numeric * 100;
		IF net_t > 0 THEN b4 := b4 - div(paid4 * e, net_t); END IF;
		points[k] := div(b4 * rules[k].value * CASE WHEN mult > 0 THEN rules[mult].value ELSE 10000 END,
						 1000000::numeric * 10000 * rules[k].point_value);
		plain := plain + div(b4 * rules[k].value, 1000000::numeric * rules[k].point_value);
		IF points[k] = 0 THEN
			st[k] := 'S'; reason[k] := 'earns 0 points';
		ELSE
			st[k] := 'A'; earned := earned + points[k];
		END IF;
	END LOOP;
	FOR k IN 1 .. nr LOOP
		CONTINUE WHEN rules[k].action <> 'points_multiplier' OR st[k] <> 'C';
		IF k <> mult THEN
			st[k] := 'S';
			reason[k] := format('rule "%s" multiplies %s (x%s)', rules[mult].code,
								CASE WHEN rules[k].value = rules[mult].value THEN 'as much, and comes first' ELSE 'more' END,
								trim_scale(rules[mult].value / 10000.0));
		ELSIF earned = 0 THEN
			st[k] := 'S'; reason[k] := 'no cashback points to multiply';
		ELSE
			st[k] := 'A'; points[k] := earned - plain;
		END IF;
	END LOOP;

	-- the answer
	FOR i IN 1 .. nl LOOP
		ds := '[]'; sk := '[]';
		FOR k IN 1 .. nr LOOP
			CONTINUE WHEN st[k] <> 'A' OR rules[k].phase = 2;
			idx := (k - 1) * nl + i;
			IF mark[idx] = 2 THEN
				ds := ds || jsonb_build_object('rule_id', rules[k].rule_id, 'code', rules[k].code, 'amount', bench.eur(amt[idx]));
			ELSIF mark[idx] = 3 THEN
				sk := sk || jsonb_build_object('rule_id', rules[k].rule_id, 'code', rules[k].code,
											   'reason', format('held by stop rule "%s"', rules[stopped[i]].code));
			ELSIF mark[idx] = 4 THEN
				sk := sk || jsonb_build_object('rule_id', rules[k].rule_id, 'code', rules[k].code,
											   'reason', 'nothing left to discount');
			END IF;
		END LOOP;
		lines_out := lines_out || jsonb_build_object(
			'line', i, 'product_id', l_product[i], 'price_list_id', l_list[i],
			'quantity', trim_scale(l_qty[i] / 1000.0), 'unit_price', bench.eur(l_price[i]),
			'gross', bench.eur(l_gross[i]), 'discount', bench.eur(l_gross[i] - rem[i]), 'net', bench.eur(rem[i]),
			'cost', bench.eur(l_cost[i]), 'discounts', ds, 'skipped', sk);
	END LOOP;
	FOR k IN 1 .. nr LOOP
		r := rules[k];
		IF st[k] <> 'A' THEN
			rules_out[k] := jsonb_build_object('rule_id', r.rule_id, 'code', r.code, 'rank', r.rank,
											   'status', 'skipped', 'reason', reason[k]);
			CONTINUE;
		END IF;
		o := jsonb_build_object('rule_id', r.rule_id, 'code', r.code, 'rank', r.rank,
								'level', CASE WHEN r.phase = 0 THEN 'line' ELSE 'order' END,
								'action', r.action, 'status', 'applied',
								'value', CASE WHEN r.action = 'fixed' THEN bench.eur(r.value) ELSE trim_scale(r.value / 10000.0) END);
		IF r.phase = 2 THEN
			o := o || jsonb_build_object('points', points[k]);
		ELSE
			lns := '[]';
			FOR i IN 1 .. nl LOOP
				IF mark[(k - 1) * nl + i] = 2 THEN lns := lns || to_jsonb(i); END IF;
			END LOOP;
			o := o || jsonb_build_object('stacking', r.stacking,
										 'base', CASE WHEN r.base_original THEN 'original' ELSE 'remaining' END,
										 'amount', bench.eur(amount[k]), 'lines', lns);
			IF capped[k] THEN o := o || '{"capped": true}'; END IF;
		END IF;
		rules_out[k] := o;
	END LOOP;
	RETURN jsonb_build_object('client_id', p_client, 'lines', lines_out, 'rules', coalesce(to_jsonb(rules_out), '[]'),
							  'totals', jsonb_build_object('gross', bench.eur(gross_t), 'discount', bench.eur(disc_t),
														   'net', bench.eur(net_t), 'points_earned', earned + prog_earned,
														   'points_earned_rules', earned, 'points_earned_program', prog_earned,
														   'max_points_payable', maxpts, 'points_paid', pts_paid));
END
$$;
