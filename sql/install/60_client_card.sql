/*
 * The single view of one client, as jsonb.
 */

CREATE FUNCTION crm.client_card(client_id bigint, last_interactions integer DEFAULT 10)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	c			crm.clients;
	card		jsonb;
	v_consents	jsonb := '{}';
	ch			text;
BEGIN
	IF client_id IS NULL THEN
		RAISE EXCEPTION 'client_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF last_interactions IS NULL THEN
		RAISE EXCEPTION 'last_interactions must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm.refuse_in_citus_task('crm.client_card');
	IF last_interactions < 0 THEN
		RAISE EXCEPTION 'last_interactions must not be negative: %', last_interactions
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	SELECT * INTO c FROM crm.clients WHERE clients.client_id = client_card.client_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'client % does not exist', client_card.client_id
			USING ERRCODE = 'no_data_found';
	END IF;

	/*
	 * Whether each channel with a consent row may be contacted now: one
	 * crm.can_contact call per channel, each a statement of its own (on
	 * Citus a function that reads crm.consents must not run inside a
	 * query over crm.consents, which goes to the shard).
	 */
	FOR ch IN
		SELECT DISTINCT k.channel FROM crm.consents k WHERE k.client_id = c.client_id
	LOOP
		v_consents := v_consents || jsonb_build_object(ch, crm.can_contact(c.client_id, ch));
	END LOOP;

	card := jsonb_build_object(
		'client_id', c.client_id,
		'profile', jsonb_strip_nulls(jsonb_build_object(
			'kind', c.kind,
			'name', CASE c.kind WHEN 'company' THEN c.company_name
							   ELSE nullif(concat_ws(' ', c.first_name, c.last_name), '') END,
			'first_name', c.first_name,
			'last_name', c.last_name,
			'company_name', c.company_name,
			'birth_date', c.birth_date,
			'email', c.email,
			'phone', c.phone,
			'country', c.country,
			'region', c.region,
			'city', c.city,
			'owner', c.owner,
			'acquisition_channel', c.acquisition_channel,
			'acquisition_cost', c.acquisition_cost,
			'created_at', c.created_at,
			'anonymized_at', c.anonymized_at,
			'attributes', c.attributes)),
		'consents', v_consents,
		'orders', (
			SELECT jsonb_build_object(
					'purchases', count(*) FILTER (WHERE o.status IN ('placed', 'paid')),
					'currency', crm.one_currency(o.currency) FILTER (WHERE o.status IN ('placed', 'paid')),
					'cancelled', count(*) FILTER (WHERE o.status = 'cancelled'),
					'refunded', count(*) FILTER (WHERE o.status = 'refunded'),
					'revenue', coalesce(sum(o.net_amount) FILTER (WHERE o.status IN ('placed', 'paid')), 0),
					'margin', coalesce(sum(o.net_amount - o.cost_amount) FILTER (WHERE o.status IN ('placed', 'paid')), 0),
					'average_order', round(avg(o.net_amount) FILTER (WHERE o.status IN ('placed', 'paid')), 2),
					'promo_share', round(avg(o.promo_used::int) FILTER (WHERE o.status IN ('placed', 'paid')), 3),
					'points_paid', coalesce(sum(o.points_paid) FILTER (WHERE o.status IN ('placed', 'paid')), 0),
					'first_purchase_at', min(o.ordered_at) FILTER (WHERE o.status IN ('placed', 'paid')),
					'last_purchase_at', max(o.ordered_at) FILTER (WHERE o.status IN ('placed', 'paid')))
			  FROM crm.orders o
			 WHERE o.client_id = c.client_id),
		'last_interactions', (
			SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
						'interaction_id', i.interaction_id,
						'occurred_at', i.occurred_at,
						'channel', i.channel,
						'kind', i.kind,
						'direction', i.direction,
						'outcome', i.outcome,
						'handled_by', i.handled_by,
						'subject', i.subject,
						'order_id', i.order_id,
						'incident_id', i.incident_id))
					ORDER BY i.occurred_at DESC, i.interaction_id DESC), '[]')
			  FROM (SELECT * FROM crm.interactions x
					 WHERE x.client_id = c.client_id
					 ORDER BY x.occurred_at DESC, x.interaction_id DESC
					 LIMIT last_interactions) i),
		'open_incidents', (
			SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
						'incident_id', n.incident_id,
						'opened_at', n.opened_at,
						'subject', n.subject,
						'category', n.category,
						'status', n.status,
						'priority', n.priority,
						'assignee', n.assignee,
						'due_at', n.due_at,
						'overdue', n.due_at < now()))
					ORDER BY n.opened_at, n.incident_id), '[]')
			  FROM crm.incidents n
			 WHERE n.client_id = c.client_id
			   AND n.status NOT IN ('resolved', 'closed')));
	RETURN card;
END
$$;
COMMENT ON FUNCTION crm.client_card(bigint, integer) IS 'one client as jsonb: profile, consents, order totals, newest interactions, open incidents';
