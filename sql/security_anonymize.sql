--
-- crm.anonymize_client: personal data goes, analytics stay; a withdrawn
-- consent stops contact at once
--
\i sql/include/try.sql
SET TimeZone = 'UTC';
BEGIN;
INSERT INTO crm.clients (client_id, kind, first_name, last_name, company_name, birth_date, email,
						 phone, country, region, city, owner, acquisition_channel, attributes)
VALUES (8101, 'person', 'Ada', 'Byron', NULL, '1985-12-10', 'ada@example.com', '+44 20 7946 0000',
		'GB', 'London', 'London', 'regress_anon_mgr', 'search', '{"nickname": "countess"}'),
	   (8102, 'company', NULL, NULL, 'Acme GmbH', NULL, 'buyer@acme.example', NULL,
		'DE', 'Bavaria', 'Munich', 'someone_else', 'partner', '{}');
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount)
SELECT c, c * 10 + k, timestamptz '2026-01-05 10:00+00' + (k * 21 + c % 7) * interval '1 day',
	   'web', 'paid', 20 * k, 20 * k
  FROM (VALUES (8101), (8102)) v(c), generate_series(1, 5) k;
INSERT INTO crm.interactions (client_id, occurred_at, channel, kind, direction, outcome, subject, payload)
VALUES (8101, '2026-03-01 09:00+00', 'email', 'email', 'inbound', 'replied', 'my new address', '{"body": "I moved to 1 Main St"}'),
	   (8101, '2026-03-02 09:00+00', 'phone', 'call', 'outbound', 'completed', NULL, '{}'),
	   (8102, '2026-03-03 09:00+00', 'chat', 'chat', 'inbound', 'completed', 'invoice', '{"body": "VAT id"}');
INSERT INTO crm.incidents (client_id, incident_id, channel, subject, description)
VALUES (8101, 8101, 'email', 'parcel not delivered to Ada Byron', 'at 1 Main St');
INSERT INTO crm.consents (client_id, channel, changed_at, granted, source) VALUES
	(8101, 'email', '2026-01-01', true, 'signup form'),
	(8101, 'sms', '2026-01-01', true, 'signup form'),
	(8101, 'sms', '2026-02-01', false, 'stop reply'),
	(8102, 'email', '2026-01-01', true, 'contract');

-- the analytics of 8101 before
CREATE TEMP TABLE before_rfm AS
SELECT * FROM crm.rfm_scores('2026-06-01') WHERE client_id IN (8101, 8102);
CREATE TEMP TABLE before_churn AS
SELECT * FROM crm.churn_signals('2026-06-01') WHERE client_id IN (8101, 8102);
CREATE TEMP TABLE before_clv AS
SELECT * FROM crm.clv_summary('2026-06-01') WHERE client_id IN (8101, 8102);

SELECT crm.can_contact(8101, 'email', '2026-06-01') AS email_before,
	   crm.can_contact(8101, 'sms', '2026-06-01') AS sms_before;

-- errors: NULL, a client that does not exist; nothing is written
SELECT pg_temp.try($$SELECT crm.anonymize_client(NULL)$$);
SELECT pg_temp.try($$SELECT crm.anonymize_client(999999)$$);
SELECT count(*) AS anonymized FROM crm.clients WHERE anonymized_at IS NOT NULL;

-- erase 8101
SELECT r - 'anonymized_at' AS result, (r ->> 'anonymized_at')::timestamptz = now() AS at_now
  FROM crm.anonymize_client(8101) r;
SELECT client_id, kind, first_name, last_name, company_name, birth_date, email, phone,
	   country, region, city, owner, acquisition_channel, attributes,
	   anonymized_at = now() AS anonymized_now
  FROM crm.clients WHERE client_id IN (8101, 8102) ORDER BY client_id;
SELECT client_id, channel, kind, outcome, subject, payload
  FROM crm.interactions WHERE client_id IN (8101, 8102) ORDER BY client_id, occurred_at;
SELECT client_id, subject, description FROM crm.incidents WHERE client_id = 8101;
-- the consent in force is withdrawn, the one already withdrawn is left alone
SELECT channel, granted, source, changed_at = now() AS now
  FROM crm.consents WHERE client_id = 8101 ORDER BY channel, changed_at;
SELECT crm.can_contact(8101, 'email') AS email_now, crm.can_contact(8102, 'email') AS other_client_email;
SELECT allowed, reason FROM crm.contact_check(8101, 'email');

-- the analytics are the same
SELECT count(*) AS rfm_changed FROM (
	SELECT * FROM before_rfm EXCEPT SELECT * FROM crm.rfm_scores('2026-06-01') WHERE client_id IN (8101, 8102)) d;
SELECT count(*) AS churn_changed FROM (
	SELECT * FROM before_churn EXCEPT SELECT * FROM crm.churn_signals('2026-06-01') WHERE client_id IN (8101, 8102)) d;
SELECT count(*) AS clv_changed FROM (
	SELECT * FROM before_clv EXCEPT SELECT * FROM crm.clv_summary('2026-06-01') WHERE client_id IN (8101, 8102)) d;
SELECT count(*) AS rfm_rows FROM before_rfm;

-- the card shows the client as anonymized, without a name
SELECT (crm.client_card(8101) -> 'profile') - 'created_at' - 'anonymized_at' AS profile;

-- again: nothing left to erase; what was written since is erased
SELECT r - 'anonymized_at' AS again FROM crm.anonymize_client(8101) r;
INSERT INTO crm.interactions (client_id, occurred_at, channel, kind, direction, subject)
VALUES (8101, '2026-04-01', 'chat', 'chat', 'inbound', 'it is Ada again');
SELECT r - 'anonymized_at' AS after_new_chat FROM crm.anonymize_client(8101) r;

-- an anonymized row cannot take personal data back while it is marked
SELECT pg_temp.try($$UPDATE crm.clients SET email = 'ada@example.com' WHERE client_id = 8101$$);

-- a consent given and withdrawn in one transaction: withdrawn at once
INSERT INTO crm.consents (client_id, channel, granted) VALUES (8102, 'sms', true);
SELECT crm.can_contact(8102, 'sms') AS sms_granted;
SELECT r - 'anonymized_at' AS company FROM crm.anonymize_client(8102) r;
SELECT crm.can_contact(8102, 'sms') AS sms_after, crm.can_contact(8102, 'email') AS email_after;

-- a manager anonymizes only their own clients
CREATE ROLE regress_anon_mgr IN ROLE crm_manager;
SET LOCAL ROLE regress_anon_mgr;
SELECT pg_temp.try($$SELECT crm.anonymize_client(8102)$$);
SELECT (crm.anonymize_client(8101)) ->> 'client_id' AS own_client;
RESET ROLE;
-- a withdrawn consent stops contact at once, in the same transaction
INSERT INTO crm.clients (client_id, kind, first_name, email) VALUES (8103, 'person', 'Grace', 'g@example.com');
INSERT INTO crm.consents (client_id, channel, changed_at, granted) VALUES (8103, 'email', '2026-01-01', true);
SELECT crm.can_contact(8103, 'email') AS before_withdrawal;
INSERT INTO crm.consents (client_id, channel, granted) VALUES (8103, 'email', false);
SELECT crm.can_contact(8103, 'email') AS right_after_withdrawal;
SELECT allowed, reason FROM crm.contact_check(8103, 'email');
ROLLBACK;
