/*
 * ABC (Pareto) classes of clients by revenue.
 */

CREATE FUNCTION crm.abc_class(share_before double precision,
							  a_share double precision DEFAULT 0.80,
							  b_share double precision DEFAULT 0.95)
RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF NOT (a_share > 0 AND a_share < b_share AND b_share <= 1) THEN
		RAISE EXCEPTION 'ABC shares must satisfy 0 < a_share < b_share <= 1, got a_share %, b_share %',
			a_share, b_share
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF share_before = 'NaN' THEN
		RAISE EXCEPTION 'share_before must be a number, got %', share_before
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN CASE WHEN share_before < a_share THEN 'A'
				WHEN share_before < b_share THEN 'B'
				ELSE 'C' END;
END
$$;
COMMENT ON FUNCTION crm.abc_class(double precision, double precision, double precision) IS 'ABC class from the revenue share of the clients ranked strictly above: A below a_share, B below b_share, else C';

CREATE FUNCTION crm.abc_analysis(as_of timestamptz,
								 a_share double precision DEFAULT 0.80,
								 b_share double precision DEFAULT 0.95)
RETURNS TABLE (client_id bigint, revenue numeric, revenue_share double precision,
			   share_before double precision, cumulative_share double precision, abc text)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	IF as_of IS NULL THEN
		RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF a_share IS NULL THEN
		RAISE EXCEPTION 'a_share must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF b_share IS NULL THEN
		RAISE EXCEPTION 'b_share must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	/* the check of crm.abc_class, here rather than inside the query */
	IF NOT (a_share > 0 AND a_share < b_share AND b_share <= 1) THEN
		RAISE EXCEPTION 'ABC shares must satisfy 0 < a_share < b_share <= 1, got a_share %, b_share %',
			a_share, b_share
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
	WITH r AS (
		SELECT o.client_id, sum(o.net_amount) AS revenue,
			   crm.one_currency(o.currency) AS cur
		  FROM crm.orders o
		 WHERE o.status IN ('placed', 'paid') AND o.ordered_at <= as_of
		 GROUP BY o.client_id),
	w AS (
		SELECT r.client_id, r.revenue,
			   sum(r.revenue) OVER () AS total,
			   sum(r.revenue) OVER (ORDER BY r.revenue DESC)
				 - sum(r.revenue) OVER (PARTITION BY r.revenue) AS above,
			   sum(r.revenue) OVER (ORDER BY r.revenue DESC) AS through,
			   crm.one_currency(r.cur) OVER () AS cur
		  FROM r)
	SELECT w.client_id, w.revenue,
		   CASE WHEN w.total > 0 THEN (w.revenue / w.total)::float8 ELSE 0 END,
		   CASE WHEN w.total > 0 THEN (w.above / w.total)::float8 ELSE 1 END,
		   CASE WHEN w.total > 0 THEN (w.through / w.total)::float8 ELSE 1 END,
		   CASE WHEN w.revenue <= 0 OR w.total <= 0 THEN 'C'
				ELSE crm.abc_class((w.above / w.total)::float8, a_share, b_share) END
	  FROM w
	 WHERE w.cur IS NOT NULL;	-- always: the check that the revenue is in one currency
END
$$;
COMMENT ON FUNCTION crm.abc_analysis(timestamptz, double precision, double precision) IS 'ABC class of every client with a purchase at or before as_of: ranked by revenue (net_amount of placed and paid orders), A while the revenue of the clients ranked strictly above is below a_share of the total, then B below b_share, then C; ties share a class; zero revenue is C; an error (0A000) when the purchases are in more than one currency';
