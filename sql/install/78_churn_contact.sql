/*
 * Contact policy: consent (crm.consents) and a cap on marketing contacts in
 * a rolling window ("attention, not intrusion").
 *
 * A marketing contact is an outbound interaction with a campaign.  The caps
 * are rows of crm.contact_caps: channel 'any' counts the contacts on every
 * channel together, a channel's own row counts that channel's.  Without an
 * 'any' row the default cap applies: at most 3 marketing contacts in 7 days.
 */

CREATE TABLE crm.contact_caps (
	channel			text NOT NULL,
	window_length	interval NOT NULL,
	max_contacts	integer,
	CONSTRAINT contact_caps_pkey PRIMARY KEY (channel),
	CONSTRAINT contact_caps_channel_check
		CHECK (channel IN ('any', 'email', 'sms', 'push', 'phone', 'messenger', 'post')),
	CONSTRAINT contact_caps_window_check
		CHECK (window_length > interval '0' AND window_length <= interval '366 days'),
	CONSTRAINT contact_caps_max_check CHECK (max_contacts >= 0)
);
COMMENT ON TABLE crm.contact_caps IS 'caps on marketing contacts (outbound interactions with a campaign) in a rolling window, per channel or for any channel; max_contacts NULL: no cap; no ''any'' row: 3 in 7 days';
SELECT pg_catalog.pg_extension_config_dump('crm.contact_caps', '');

CREATE FUNCTION crm.contact_check(client_id bigint, channel text,
								  at timestamptz DEFAULT pg_catalog.now(),
								  OUT allowed boolean, OUT reason text,
								  OUT consent boolean, OUT contacts_in_window bigint,
								  OUT cap integer, OUT cap_window interval)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
DECLARE
	granted		boolean;
	rule		record;
	n			bigint;
BEGIN
	IF client_id IS NULL THEN
		RAISE EXCEPTION 'client_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF channel IS NULL THEN
		RAISE EXCEPTION 'channel must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF at IS NULL THEN
		RAISE EXCEPTION 'at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm.refuse_in_citus_task('crm.contact_check');
	IF channel NOT IN ('email', 'sms', 'push', 'phone', 'messenger', 'post') THEN
		RAISE EXCEPTION 'unknown contact channel "%"', channel
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Contact channels are email, sms, push, phone, messenger and post.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM crm.clients c WHERE c.client_id = contact_check.client_id) THEN
		RAISE EXCEPTION 'client % does not exist', client_id
			USING ERRCODE = 'no_data_found';
	END IF;
	SELECT c.granted INTO granted
	  FROM crm.consents c
	 WHERE c.client_id = contact_check.client_id
	   AND c.channel = contact_check.channel
	   AND c.changed_at <= contact_check.at
	 ORDER BY c.changed_at DESC
	 LIMIT 1;
	consent := coalesce(granted, false);
	IF NOT consent THEN
		allowed := false;
		reason := CASE WHEN granted IS NULL THEN 'no consent' ELSE 'consent withdrawn' END;
		RETURN;
	END IF;
	/* the channel's own cap first, then the cap over every channel */
	FOR rule IN
		SELECT r.channel AS cap_channel, r.window_length, r.max_contacts
		  FROM (SELECT cc.channel, cc.window_length, cc.max_contacts, 1 AS o
				  FROM crm.contact_caps cc WHERE cc.channel = contact_check.channel
				UNION ALL
				SELECT 'any', coalesce(a.window_length, interval '7 days'),
					   CASE WHEN a.channel IS NULL THEN 3 ELSE a.max_contacts END, 2
				  FROM (SELECT 1) one
				  LEFT JOIN crm.contact_caps a ON a.channel = 'any') r
		 ORDER BY r.o
	LOOP
		CONTINUE WHEN rule.max_contacts IS NULL;
		SELECT count(*) INTO n
		  FROM crm.interactions i
		 WHERE i.client_id = contact_check.client_id
		   AND i.direction = 'outbound' AND i.campaign IS NOT NULL
		   AND i.occurred_at >= contact_check.at - rule.window_length
		   AND i.occurred_at < contact_check.at
		   AND (rule.cap_channel = 'any' OR i.channel = rule.cap_channel);
		IF n >= rule.max_contacts THEN
			allowed := false;
			reason := format('cap reached: %s marketing contacts in %s on %s, cap %s',
							 n, rule.window_length,
							 CASE rule.cap_channel WHEN 'any' THEN 'all channels'
							 ELSE rule.cap_channel END,
							 rule.max_contacts);
			contacts_in_window := n;
			cap := rule.max_contacts;
			cap_window := rule.window_length;
			RETURN;
		END IF;
		IF rule.cap_channel = 'any' THEN
			contacts_in_window := n;
			cap := rule.max_contacts;
			cap_window := rule.window_length;
		END IF;
	END LOOP;
	allowed := true;
END
$$;
COMMENT ON FUNCTION crm.contact_check(bigint, text, timestamptz) IS 'whether a marketing contact to the client on the channel is allowed at the moment, and why not: consent in force and the caps of crm.contact_caps (contacts strictly before at, in the rolling window)';

CREATE FUNCTION crm.can_contact(client_id bigint, channel text,
								at timestamptz DEFAULT pg_catalog.now())
RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, crm, pg_temp
AS $$
BEGIN
	/* the checks of crm.contact_check, so that its errors come from here */
	IF client_id IS NULL THEN
		RAISE EXCEPTION 'client_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF channel IS NULL THEN
		RAISE EXCEPTION 'channel must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	ELSIF at IS NULL THEN
		RAISE EXCEPTION 'at must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crm.refuse_in_citus_task('crm.can_contact');
	IF channel NOT IN ('email', 'sms', 'push', 'phone', 'messenger', 'post') THEN
		RAISE EXCEPTION 'unknown contact channel "%"', channel
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Contact channels are email, sms, push, phone, messenger and post.';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM crm.clients c WHERE c.client_id = can_contact.client_id) THEN
		RAISE EXCEPTION 'client % does not exist', client_id
			USING ERRCODE = 'no_data_found';
	END IF;
	RETURN (crm.contact_check(client_id, channel, at)).allowed;
END
$$;
COMMENT ON FUNCTION crm.can_contact(bigint, text, timestamptz) IS 'whether the client may be contacted on the channel at the moment: consent in force (no consent row: false; no such client: an error, P0002) and under the marketing contact caps of crm.contact_caps; the reason when not: crm.contact_check';
