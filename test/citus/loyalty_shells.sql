--
-- The loyalty calls never write a coordinator's shell table: with the
-- loyalty tables distributed by client_id (the programmes a reference
-- table) and their old rows still in the coordinator's tables (crm's
-- append-only guards refuse the TRUNCATE that would clear them), earn and
-- redeem go to their SQL twins, which write the shards: the balances are
-- those of the ledger, which the distributed tables hold.
--
SET client_min_messages = warning;
CREATE EXTENSION crm;
INSERT INTO crm.clients (client_id, first_name) SELECT g, 'c' || g FROM generate_series(1, 20) g;
INSERT INTO crm.loyalty_programs (code, name, points_per_unit) VALUES ('club', 'Club', 1);
SELECT count(crm.earn_points(g, 'club', 1000, 'seed-' || g)) AS seeded FROM generate_series(1, 20) g;

-- distributed by hand for this test: the foreign keys and manager policies
-- Citus refuses are dropped, the row triggers allowed
DO $$
DECLARE c record;
BEGIN
	FOR c IN SELECT conrelid::regclass AS t, conname FROM pg_constraint
			  WHERE contype = 'f' AND connamespace = 'crm'::regnamespace
	LOOP
		EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.t, c.conname);
	END LOOP;
	FOR c IN SELECT tablename FROM pg_policies WHERE schemaname = 'crm' AND policyname = 'crm_manager'
			   AND tablename LIKE 'loyalty%'
	LOOP
		EXECUTE format('DROP POLICY crm_manager ON crm.%I', c.tablename);
	END LOOP;
END $$;
SET citus.enable_unsafe_triggers = on;
SELECT create_reference_table('crm.loyalty_programs');
SELECT create_distributed_table('crm.loyalty_accounts', 'client_id');
SELECT create_distributed_table('crm.loyalty_ledger', 'client_id', colocate_with => 'crm.loyalty_accounts');
SELECT create_distributed_table('crm.loyalty_lots', 'client_id', colocate_with => 'crm.loyalty_accounts');
SELECT create_distributed_table('crm.loyalty_allocations', 'client_id', colocate_with => 'crm.loyalty_accounts');

SELECT crm.fast_path_stats_reset();
SELECT CASE WHEN e.balance_after = 1010 THEN 'ok earn_points: 1000 + 10 = 1010'
			ELSE 'FAIL earn_points: balance_after ' || e.balance_after END
  FROM crm.earn_points(1, 'club', 10, 'k-1') e;
SELECT CASE WHEN e.balance_after = 110 THEN 'ok redeem_points: 1010 - 900 = 110'
			ELSE 'FAIL redeem_points: balance_after ' || e.balance_after END
  FROM crm.redeem_points(1, 'club', 900, 'k-2') e;
SELECT CASE WHEN b = 110 THEN 'ok the distributed ledger says 110'
			ELSE 'FAIL the distributed ledger says ' || b END
  FROM (SELECT sum(points) AS b FROM crm.loyalty_ledger WHERE client_id = 1) x;
SELECT CASE WHEN balance = 110 THEN 'ok the distributed account says 110'
			ELSE 'FAIL the distributed account says ' || balance END
  FROM crm.loyalty_accounts WHERE client_id = 1;
SELECT CASE WHEN s.path = 'sql' AND s.reason = 'managed by Citus'
			THEN 'ok ' || s.function || ' went to SQL: managed by Citus'
			ELSE 'FAIL ' || s.function || ' took path ' || s.path || coalesce(' (' || s.reason || ')', '') END
  FROM crm.fast_path_stats() s ORDER BY s.function;
