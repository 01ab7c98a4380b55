--
-- crm.sync_sequences(): after a load with explicit ids, the identity
-- sequences of crm's tables are moved past the largest loaded id, so that
-- the next insert taking the default does not collide with a loaded row.
-- (Runs last: the sequences it moves are not transactional.)
--
SET TimeZone = 'UTC';
\i sql/include/try.sql

-- start from sequences past whatever the earlier tests left
SELECT count(*) >= 0 AS synced FROM crm.sync_sequences();
SELECT count(*) AS moved_again FROM crm.sync_sequences();

-- the ids the defaults would give next (c0, o0)
SELECT nextval('crm.clients_client_id_seq') AS c0, nextval('crm.orders_order_id_seq') AS o0 \gset
SELECT setval('crm.clients_client_id_seq', :c0, false) = :c0 AS clients_back,
       setval('crm.orders_order_id_seq', :o0, false) = :o0 AS orders_back;

-- a load that keeps its own ids: three clients, four orders, exactly the
-- ids the defaults would give next
INSERT INTO crm.clients (client_id, kind, first_name, country, created_at, updated_at)
SELECT :c0 + g, 'person', 'Imported ' || g, 'DE', '2024-01-05 09:00+00', '2024-01-05 09:00+00'
  FROM generate_series(0, 2) g;
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, discount_amount, net_amount)
SELECT :c0 + g % 3, :o0 + g, '2024-06-01 12:00+00'::timestamptz + g * interval '1 day', 'web', 'paid', 100, 10, 90
  FROM generate_series(0, 3) g;

-- before: the next default insert collides with a loaded row
SELECT pg_temp.try($$INSERT INTO crm.clients (kind, first_name) VALUES ('person', 'New')$$) AS new_client;
SELECT pg_temp.try(format($$INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, net_amount) VALUES (%s, '2024-07-01 12:00+00', 'web', 5, 5)$$, :c0)) AS new_order;

-- who may run it: crm_admin (and the owner), nobody else
SET ROLE crm_analyst;
SELECT pg_temp.try($$SELECT crm.sync_sequences()$$) AS as_analyst;
RESET ROLE;
SET ROLE crm_app;
SELECT pg_temp.try($$SELECT crm.sync_sequences()$$) AS as_app;
RESET ROLE;

-- the sequences it moved, the next value before and after (relative to the
-- first loaded id; the two defaults above took one value each)
SET ROLE crm_admin;
SELECT table_name, column_name, sequence_name,
       next_before - CASE table_name WHEN 'crm.clients'::regclass THEN :c0 ELSE :o0 END AS next_before,
       next_after - CASE table_name WHEN 'crm.clients'::regclass THEN :c0 ELSE :o0 END AS next_after
  FROM crm.sync_sequences() ORDER BY table_name::text;
-- a second run moves nothing
SELECT count(*) AS moved_again FROM crm.sync_sequences();
RESET ROLE;

-- after: the defaults follow the loaded ids
INSERT INTO crm.clients (kind, first_name) VALUES ('person', 'New') RETURNING client_id - :c0 AS new_client;
INSERT INTO crm.orders (client_id, ordered_at, channel, gross_amount, net_amount)
VALUES (:c0, '2024-07-01 12:00+00', 'web', 5, 5) RETURNING order_id - :o0 AS new_order;

-- a sequence already past its largest id is never moved back
SELECT setval('crm.clients_client_id_seq', :c0 + 100) - :c0 AS ahead;
SELECT count(*) AS moved FROM crm.sync_sequences();
SELECT nextval('crm.clients_client_id_seq') - :c0 AS still_ahead;

-- labels: volatile (it writes), parallel unsafe, SECURITY DEFINER with its search_path
SELECT provolatile, proparallel, proisstrict, prosecdef, proconfig
  FROM pg_proc WHERE oid = 'crm.sync_sequences()'::regprocedure;
