/*
 * Cross-sell: product co-purchase rules and the category x segment revenue
 * matrix.  A basket is a purchase (order placed or paid); items are
 * distinct products of the basket.
 */

CREATE FUNCTION crm.product_affinity(as_of timestamptz,
									 min_support double precision DEFAULT 0.01,
									 since timestamptz DEFAULT '-infinity',
									 level text DEFAULT 'product')
RETURNS TABLE (antecedent bigint, consequent bigint, baskets bigint,
			   support double precision, confidence double precision,
			   lift double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF min_support IS NULL THEN
		RAISE EXCEPTION 'min_support must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF since IS NULL THEN
		RAISE EXCEPTION 'since must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF level IS NULL THEN
		RAISE EXCEPTION 'level must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT (min_support > 0 AND min_support <= 1) THEN
		RAISE EXCEPTION 'min_support must be in (0, 1], got %', min_support
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF level NOT IN ('product', 'category') THEN
		RAISE EXCEPTION 'level must be product or category, not "%"', level
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
	WITH items AS MATERIALIZED (
		SELECT DISTINCT l.client_id, l.order_id,
			   CASE WHEN level = 'category' THEN p.category_id ELSE l.product_id END AS product_id
		  FROM crm.order_lines l
		  JOIN crm.orders o USING (client_id, order_id)
		  JOIN crm.products p USING (product_id)
		 WHERE o.status IN ('placed', 'paid')
		   AND o.ordered_at > since AND o.ordered_at <= as_of),
	n AS (
		SELECT count(*)::float8 AS n
		  FROM (SELECT DISTINCT i.client_id, i.order_id FROM items i) b),
	single AS MATERIALIZED (
		SELECT i.product_id, count(*) AS cnt
		  FROM items i
		 GROUP BY i.product_id
		HAVING count(*) >= min_support * (SELECT n.n FROM n)),
	frequent AS (
		SELECT i.* FROM items i JOIN single s USING (product_id)),
	pairs AS (
		SELECT x.product_id AS a, y.product_id AS b, count(*) AS cnt
		  FROM frequent x
		  JOIN frequent y ON y.client_id = x.client_id AND y.order_id = x.order_id
						 AND y.product_id > x.product_id
		 GROUP BY x.product_id, y.product_id
		HAVING count(*) >= min_support * (SELECT n.n FROM n))
	SELECT d.ante, d.cons, p.cnt,
		   p.cnt / n.n,
		   p.cnt::float8 / sa.cnt,
		   n.n * p.cnt / (sa.cnt::float8 * sc.cnt)
	  FROM pairs p
	 CROSS JOIN n
	 CROSS JOIN LATERAL (VALUES (p.a, p.b), (p.b, p.a)) d(ante, cons)
	  JOIN single sa ON sa.product_id = d.ante
	  JOIN single sc ON sc.product_id = d.cons
	 ORDER BY 1, 2;
END
$$;
COMMENT ON FUNCTION crm.product_affinity(timestamptz, double precision, timestamptz, text) IS 'association rules antecedent -> consequent between products (or, with level category, product categories) bought in the same purchase (since, as_of]: baskets with both, support, confidence, lift; pairs below min_support are dropped';

CREATE FUNCTION crm.segment_category_revenue(as_of timestamptz, map_name text DEFAULT 'rfm11')
RETURNS TABLE (segment text, category_id integer, category text, revenue numeric,
			   buyers bigint, segment_share double precision,
			   overall_share double precision, index double precision)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF map_name IS NULL THEN
		RAISE EXCEPTION 'map_name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF NOT isfinite(as_of) THEN
		RAISE EXCEPTION 'as_of must be finite: %', as_of
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	/* the map's errors here, not inside the query (nor only when there are purchases) */
	IF NOT EXISTS (SELECT 1 FROM crm.segment_maps mp WHERE mp.map_name = segment_category_revenue.map_name) THEN
		RAISE EXCEPTION 'segment map "%" does not exist', map_name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The maps are listed in crm.segment_maps.';
	END IF;
	IF EXISTS (SELECT 1 FROM crm.segment_map_problems(segment_category_revenue.map_name)) THEN
		RAISE EXCEPTION 'segment map "%" is not a partition of its score cells', map_name
			USING ERRCODE = 'check_violation',
				  HINT = format('SELECT * FROM crm.segment_map_problems(%L) lists the problems.', map_name);
	END IF;
	RETURN QUERY
	WITH s AS MATERIALIZED (
		SELECT r.client_id, r.segment FROM crm.rfm_scores(as_of, map_name) r),
	lr AS (
		SELECT s.segment, p.category_id, l.client_id, l.net_amount
		  FROM crm.order_lines l
		  JOIN crm.orders o USING (client_id, order_id)
		  JOIN crm.products p USING (product_id)
		  JOIN s USING (client_id)
		 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= as_of),
	m AS (
		SELECT lr.segment, lr.category_id, sum(lr.net_amount) AS revenue,
			   count(DISTINCT lr.client_id) AS buyers
		  FROM lr
		 GROUP BY lr.segment, lr.category_id),
	t AS (
		SELECT m.*,
			   sum(m.revenue) OVER (PARTITION BY m.segment) AS seg_total,
			   sum(m.revenue) OVER (PARTITION BY m.category_id) AS cat_total,
			   sum(m.revenue) OVER () AS total
		  FROM m)
	SELECT t.segment, t.category_id, c.name, t.revenue, t.buyers,
		   CASE WHEN t.seg_total > 0 THEN (t.revenue / t.seg_total)::float8 END,
		   CASE WHEN t.total > 0 THEN (t.cat_total / t.total)::float8 END,
		   CASE WHEN t.seg_total > 0 AND t.cat_total > 0
				THEN ((t.revenue / t.seg_total) / (t.cat_total / t.total))::float8 END
	  FROM t
	  JOIN crm.categories c ON c.category_id = t.category_id
	 ORDER BY t.segment, t.revenue DESC, t.category_id;
END
$$;
COMMENT ON FUNCTION crm.segment_category_revenue(timestamptz, text) IS 'revenue (order line net_amount) per RFM segment and product category at as_of: buyers, the category''s share of the segment''s revenue, its share of all revenue, and their ratio (index > 1: over-represented in the segment)';
