-- contact policy: consent and the cap on marketing contacts
SET TimeZone = 'UTC';
BEGIN;
INSERT INTO crm.clients (client_id, first_name) VALUES (9301, 'a');
INSERT INTO crm.consents (client_id, channel, changed_at, granted) VALUES
	(9301, 'email', '2024-01-01', true), (9301, 'sms', '2024-01-01', true),
	(9301, 'sms', '2024-05-01', false);
-- three marketing e-mails in the week before June 10, one call without campaign
INSERT INTO crm.interactions (client_id, occurred_at, channel, kind, direction, campaign) VALUES
	(9301, '2024-06-04', 'email', 'email', 'outbound', 'a'),
	(9301, '2024-06-06', 'email', 'email', 'outbound', 'b'),
	(9301, '2024-06-09', 'email', 'email', 'outbound', 'c'),
	(9301, '2024-06-09', 'phone', 'call', 'outbound', NULL);
SELECT crm.can_contact(9301, 'email', '2024-06-03') AS before_the_mails,
	   crm.can_contact(9301, 'email', '2024-06-10') AS after_three,
	   crm.can_contact(9301, 'email', '2024-06-11 00:00:01') AS one_left_the_window,
	   crm.can_contact(9301, 'sms', '2024-03-01') AS sms_granted,
	   crm.can_contact(9301, 'sms', '2024-06-01') AS sms_withdrawn,
	   crm.can_contact(9301, 'push', '2024-06-01') AS push_never;
SELECT * FROM crm.contact_check(9301, 'email', '2024-06-10');
SELECT * FROM crm.contact_check(9301, 'email', '2024-06-03');
SELECT allowed, reason FROM crm.contact_check(9301, 'sms', '2024-06-01');
SELECT allowed, reason FROM crm.contact_check(9301, 'push', '2024-06-01');
-- caps are configurable: a looser cap over all channels, a tighter one on e-mail
INSERT INTO crm.contact_caps VALUES ('any', '7 days', 10), ('email', '30 days', 2);
SELECT allowed, reason, contacts_in_window, cap, cap_window FROM crm.contact_check(9301, 'email', '2024-06-08');
SELECT allowed, reason FROM crm.contact_check(9301, 'sms', '2024-03-01');
UPDATE crm.contact_caps SET max_contacts = NULL;	-- no caps
SELECT crm.can_contact(9301, 'email', '2024-06-10') AS uncapped;
-- a NULL client is an error (22004), an unknown one too (P0002): not "no consent"
DO $$ BEGIN PERFORM crm.can_contact(NULL, 'email'); EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%: %', SQLSTATE, SQLERRM; END $$;
DO $$ BEGIN PERFORM crm.can_contact(999999, 'email'); EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%: %', SQLSTATE, SQLERRM; END $$;
DO $$ BEGIN PERFORM crm.contact_check(999999, 'email'); EXCEPTION WHEN OTHERS THEN RAISE NOTICE '%: %', SQLSTATE, SQLERRM; END $$;
DO $$ BEGIN PERFORM crm.can_contact(9301, 'fax'); EXCEPTION WHEN invalid_parameter_value THEN RAISE NOTICE '%', SQLERRM; END $$;
ROLLBACK;
