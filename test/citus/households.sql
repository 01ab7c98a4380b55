--
-- Households on a cluster: crm.distribute() makes crm.households (by its
-- owner) and crm.household_members (by the member) distributed tables
-- co-located with crm.clients; a household whose members live in
-- different shards earns and redeems as on one node (the transfers write
-- several shards in one transaction), its statement and balance read
-- across them, and crm.verify_ledger() is clean.
--
SET client_min_messages = warning;
CREATE EXTENSION crm;
INSERT INTO crm.clients (client_id, first_name) SELECT g, 'c' || g FROM generate_series(1, 40) g;
INSERT INTO crm.loyalty_programs (code, name, points_per_unit) VALUES ('club', 'Club', 1);
SELECT count(*) > 0 AS distributed FROM crm.distribute(shard_count => 8);

SELECT CASE WHEN count(*) = 2 THEN 'ok households and household_members are distributed by client_id with crm.clients'
			ELSE 'FAIL ' || string_agg(logicalrelid::text, ', ') END
  FROM pg_dist_partition p
 WHERE p.logicalrelid IN ('crm.households'::regclass, 'crm.household_members'::regclass)
   AND p.partmethod = 'h' AND column_to_column_name(p.logicalrelid, p.partkey) = 'client_id'
   AND p.colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'crm.clients'::regclass);

-- owner 1, members 2 and 3: on different shards (8 shards, 40 clients)
SELECT CASE WHEN count(DISTINCT get_shard_id_for_distribution_column('crm.clients', g)) > 1
			THEN 'ok the members live in more than one shard' ELSE 'FAIL one shard' END
  FROM generate_series(1, 3) g;
SELECT (crm.create_household(1, 'club', 'one')).client_id AS owner;
SELECT (crm.join_household(2, 1, 'club')).client_id AS joined;
SELECT (crm.join_household(3, 1, 'club', 100)).client_id AS joined;
SELECT count(crm.earn_points(g, 'club', 50 * g, 'seed-' || g)) AS earned FROM generate_series(1, 3) g;

SELECT CASE WHEN crm.household_balance(3, 'club') = 300 THEN 'ok household balance 50 + 100 + 150 = 300'
			ELSE 'FAIL household balance ' || crm.household_balance(3, 'club') END;
-- member 2 redeems 200: its own 100, then 100 of the others' lots (the oldest first: owner 1's 50,
-- then 50 of member 3's): two debits, two credits and the redemption
SELECT CASE WHEN (r).points = -200 AND (r).balance_after = 0 THEN 'ok member 2 redeems 200 from the household'
			ELSE 'FAIL redeem: ' || r::text END
  FROM (SELECT crm.redeem_points(2, 'club', 200, 'till-1') AS r) x;
SELECT CASE WHEN string_agg(a.client_id || ':' || a.balance, ' ' ORDER BY a.client_id) = '1:0 2:0 3:100'
			THEN 'ok the balances after the transfers: 1:0 2:0 3:100'
			ELSE 'FAIL balances ' || string_agg(a.client_id || ':' || a.balance, ' ' ORDER BY a.client_id) END
  FROM crm.loyalty_accounts a WHERE a.client_id <= 3;
-- the same key again: the first entry, nothing moved
SELECT CASE WHEN (crm.redeem_points(2, 'club', 200, 'till-1')).balance_after = 0
			 AND (SELECT count(*) FROM crm.loyalty_ledger) = 8
			THEN 'ok the retry returns the first entry and writes nothing'
			ELSE 'FAIL the retry: ' || (SELECT count(*) FROM crm.loyalty_ledger) || ' entries' END;
-- member 3's limit (100), then the household's points (LY001)
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN st || ': ' || msg;
END $$;
SELECT CASE WHEN t LIKE 'LY004: %' THEN 'ok the limit refuses 101 points to member 3'
			ELSE 'FAIL the limit: ' || t END
  FROM pg_temp.try($$SELECT crm.redeem_points(3, 'club', 101, 'till-2')$$) t;
SELECT CASE WHEN t = 'LY001: not enough loyalty points: 101 requested, 100 available'
			THEN 'ok LY001 with the household''s 100 points'
			ELSE 'FAIL too few points: ' || t END
  FROM pg_temp.try($$SELECT crm.redeem_points(1, 'club', 101, 'till-3')$$) t;
-- the statement: the household's running balance ends at its balance
SELECT CASE WHEN count(*) = 11 AND (array_agg(household_balance ORDER BY at, entry_id))[11] = 100
			THEN 'ok the household statement: 3 joined, 8 entries, ending at 100'
			ELSE 'FAIL the household statement: ' || count(*) || ' rows' END
  FROM crm.household_statement(1, 'club');
-- price_cart takes a member's household programme; member 3 leaves with its points
INSERT INTO crm.clients (client_id, first_name) VALUES (41, 'new');
SELECT (crm.join_household(41, 1, 'club')).client_id AS joined;
INSERT INTO crm.categories (category_id, name) VALUES (1, 'c');
INSERT INTO crm.products (product_id, sku, name, category_id) VALUES (1, 'p', 'p', 1);
INSERT INTO crm.price_lists (price_list_id, code, name, kind) VALUES (1, 'l', 'l', 'retail');
INSERT INTO crm.prices VALUES (1, 1, 10.00);
WITH c AS MATERIALIZED (SELECT 41 AS client_id)
SELECT CASE WHEN crm.price_cart(c.client_id, '[{"product_id": 1, "quantity": 1, "price_list_id": 1}]')->>'program' = 'club'
			THEN 'ok price_cart quotes a member without an account in the household''s programme'
			ELSE 'FAIL price_cart' END
  FROM c;
SELECT count(*) AS left FROM crm.leave_household(3, 'club');
SELECT CASE WHEN crm.household_balance(1, 'club') = 0 AND crm.household_balance(3, 'club') = 100
			THEN 'ok member 3 left with its 100 points'
			ELSE 'FAIL after leaving: ' || crm.household_balance(1, 'club') || ', ' || crm.household_balance(3, 'club') END;
SELECT CASE WHEN count(*) = 0 THEN 'ok crm.verify_ledger() finds nothing'
			ELSE 'FAIL crm.verify_ledger(): ' || string_agg(v::text, '; ') END
  FROM crm.verify_ledger() v;
