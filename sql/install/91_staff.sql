/*
 * Staff results: who sold how much, to how many clients, at what average
 * check, how many of those clients bought again, and how their clients'
 * segments and churn statuses moved in the period.
 *
 * A purchase (a placed or paid order, as everywhere in crm) is credited
 *   by => 'owner'       to the client's owner (crm.clients.owner, as it is
 *                       now: crm keeps no history of owners);
 *   by => 'handled_by'  to the handled_by of the latest interaction linked
 *                       to the order (interactions.order_id) that names one.
 * A purchase credited to nobody is the row whose staff is NULL.
 *
 * "Bought again": a purchase in the period that is not the client's first
 * purchase ever.  repeat_share = clients with such a purchase credited to
 * the staff / clients served.  Moves: the transitions crm.refresh_segments
 * logged with as_of in [from_at, to_at) of the staff's clients (by owner:
 * every client they own; by handled_by: the clients they sold to in the
 * period); a first label (from NULL) is not a move.  Churn statuses are
 * ordered new = active < slipping < lapsed < lost: improved and worsened
 * count the moves down and up that order.
 *
 * Caller's rights: the tables' privileges and policies decide what is
 * counted (a manager counts their own clients only), and a crm_manager who
 * is not also crm_admin, crm_analyst or crm_app sees only the row named by
 * their own role.
 */
CREATE FUNCTION crm.staff_performance(from_at timestamptz, to_at timestamptz,
									  by text DEFAULT 'owner')
RETURNS TABLE (staff text, revenue numeric, currency text, purchases bigint,
			   clients_served bigint, average_check numeric, repeat_clients bigint,
			   repeat_share numeric, segment_moves bigint, status_improved bigint,
			   status_worsened bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_all		boolean;
BEGIN
	IF from_at IS NULL THEN
		RAISE EXCEPTION 'from_at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF to_at IS NULL THEN
		RAISE EXCEPTION 'to_at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF by IS NULL THEN
		RAISE EXCEPTION 'by must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF from_at > to_at THEN
		RAISE EXCEPTION 'from_at % is after to_at %', from_at, to_at
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF by NOT IN ('owner', 'handled_by') THEN
		RAISE EXCEPTION 'unknown attribution: "%"', by
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Purchases are credited by owner or by handled_by.';
	END IF;
	v_all := pg_has_role('crm_admin', 'MEMBER') OR pg_has_role('crm_analyst', 'MEMBER')
		OR pg_has_role('crm_app', 'MEMBER') OR NOT pg_has_role('crm_manager', 'MEMBER');

	RETURN QUERY
	WITH sales AS MATERIALIZED (
		SELECT CASE $3
				 WHEN 'owner' THEN c.owner
				 ELSE (SELECT i.handled_by FROM crm.interactions i
						WHERE i.client_id = o.client_id AND i.order_id = o.order_id
						  AND i.handled_by IS NOT NULL
						ORDER BY i.occurred_at DESC, i.interaction_id DESC LIMIT 1)
			   END AS who,
			   o.client_id, o.net_amount, o.currency,
			   EXISTS (SELECT 1 FROM crm.orders e
						WHERE e.client_id = o.client_id AND e.status IN ('placed', 'paid')
						  AND (e.ordered_at < o.ordered_at
							   OR (e.ordered_at = o.ordered_at AND e.order_id < o.order_id)))
				 AS again
		  FROM crm.orders o
		  JOIN crm.clients c ON c.client_id = o.client_id
		 WHERE o.status IN ('placed', 'paid')
		   AND o.ordered_at >= $1 AND o.ordered_at < $2),
	sold AS (
		SELECT s.who, sum(s.net_amount) AS revenue, crm.one_currency(s.currency) AS currency,
			   count(*) AS purchases, count(DISTINCT s.client_id) AS served,
			   count(DISTINCT s.client_id) FILTER (WHERE s.again) AS again
		  FROM sales s
		 GROUP BY s.who),
	clients_of AS (
		SELECT c.owner AS who, c.client_id FROM crm.clients c WHERE $3 = 'owner'
		UNION ALL
		SELECT DISTINCT s.who, s.client_id FROM sales s WHERE $3 = 'handled_by'),
	moved AS (
		SELECT k.who,
			   count(*) FILTER (WHERE t.dimension = 'rfm_segment'
								  AND t.from_value IS NOT NULL AND t.to_value IS NOT NULL) AS moves,
			   count(*) FILTER (WHERE t.dimension = 'churn_status'
								  AND crm.churn_status_rank(t.to_value)
									  < crm.churn_status_rank(t.from_value)) AS improved,
			   count(*) FILTER (WHERE t.dimension = 'churn_status'
								  AND crm.churn_status_rank(t.to_value)
									  > crm.churn_status_rank(t.from_value)) AS worsened
		  FROM clients_of k
		  JOIN crm.segment_transitions t ON t.client_id = k.client_id
		 WHERE t.as_of >= $1 AND t.as_of < $2
		 GROUP BY k.who)
	SELECT x.who, coalesce(max(x.revenue), 0), max(x.currency), coalesce(max(x.purchases), 0),
		   coalesce(max(x.served), 0), round(max(x.revenue) / nullif(max(x.purchases), 0), 2),
		   coalesce(max(x.again), 0), round(max(x.again)::numeric / nullif(max(x.served), 0), 4),
		   coalesce(max(x.moves), 0), coalesce(max(x.improved), 0), coalesce(max(x.worsened), 0)
	  FROM (SELECT s.who, s.revenue, s.currency, s.purchases, s.served, s.again,
				   NULL::bigint AS moves, NULL::bigint AS improved, NULL::bigint AS worsened
			  FROM sold s
			UNION ALL
			SELECT m.who, NULL, NULL, NULL, NULL, NULL, m.moves, m.improved, m.worsened
			  FROM moved m) x
	 WHERE v_all OR x.who = CURRENT_USER
	 GROUP BY x.who
	 ORDER BY 2 DESC, 1 NULLS LAST;
END
$$;
COMMENT ON FUNCTION crm.staff_performance(timestamptz, timestamptz, text) IS 'per member of staff (by owner of the client, or by handled_by of the interaction linked to the order): revenue, currency, purchases, clients served, average check, clients who bought again and their share, RFM segment moves and churn status moves (improved, worsened) of their clients in [from_at, to_at); a crm_manager sees their own row only';

/* the order of churn statuses the moves are counted in: 0 best, 3 worst */
CREATE FUNCTION crm.churn_status_rank(status text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
	SELECT CASE status WHEN 'new' THEN 0 WHEN 'active' THEN 0 WHEN 'slipping' THEN 1
					   WHEN 'lapsed' THEN 2 WHEN 'lost' THEN 3 END
$$;
COMMENT ON FUNCTION crm.churn_status_rank(text) IS 'internal: the order of churn statuses for crm.staff_performance: new and active 0, slipping 1, lapsed 2, lost 3 (NULL otherwise)';
