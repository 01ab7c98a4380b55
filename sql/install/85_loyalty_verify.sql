/*
 * crm.verify_ledger(): every invariant of the loyalty ledger, checked
 * against the append-only tables; and the privileges of the loyalty
 * functions.
 */

CREATE FUNCTION crm.verify_ledger()
RETURNS TABLE (check_name text, client_id bigint, program_id bigint, entry_id bigint, detail text)
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS $$
	/* the cached balance of an account equals the sum of its entries */
	SELECT 'balance_equals_entries', a.client_id, a.program_id, NULL::bigint,
		   format('balance %s, entries sum to %s', a.balance, coalesce(s.total, 0))
	  FROM crm.loyalty_accounts a
	  LEFT JOIN (SELECT l.client_id, l.program_id, sum(l.points) AS total
				   FROM crm.loyalty_ledger l GROUP BY 1, 2) s
		ON s.client_id = a.client_id AND s.program_id = a.program_id
	 WHERE a.balance IS DISTINCT FROM coalesce(s.total, 0)
	UNION ALL
	/* balance_after is the running sum, never negative */
	SELECT CASE WHEN r.running < 0 THEN 'negative_balance' ELSE 'balance_after_is_running_sum' END,
		   r.client_id, r.program_id, r.entry_id,
		   format('balance_after %s, running sum %s', r.balance_after, r.running)
	  FROM (SELECT l.client_id, l.program_id, l.entry_id, l.balance_after,
				   sum(l.points) OVER (PARTITION BY l.client_id, l.program_id ORDER BY l.entry_id) AS running
			  FROM crm.loyalty_ledger l) r
	 WHERE r.running < 0 OR r.running <> r.balance_after
	UNION ALL
	/* an entry's points are the sum of its allocations (a credit that opens a lot: the lot) */
	SELECT 'entry_equals_allocations', l.client_id, l.program_id, l.entry_id,
		   format('entry %s points, allocations sum to %s', l.points, coalesce(s.total, 0))
	  FROM crm.loyalty_ledger l
	  LEFT JOIN (SELECT al.client_id, al.program_id, al.entry_id, sum(al.points) AS total
				   FROM crm.loyalty_allocations al GROUP BY 1, 2, 3) s
		ON s.client_id = l.client_id AND s.program_id = l.program_id AND s.entry_id = l.entry_id
	 WHERE l.points <> coalesce(s.total, 0) + CASE WHEN l.lot_id = l.entry_id THEN l.points ELSE 0 END
	UNION ALL
	/* a lot is never over-drawn, never over-filled, and its cache is right */
	SELECT CASE WHEN t.points + coalesce(s.total, 0) < 0 THEN 'lot_overdrawn'
				WHEN coalesce(s.total, 0) > 0 THEN 'lot_overfilled'
				ELSE 'lot_remaining_equals_allocations' END,
		   t.client_id, t.program_id, t.lot_id,
		   format('lot of %s points, remaining %s, allocations since sum to %s',
				  t.points, t.remaining, coalesce(s.total, 0))
	  FROM crm.loyalty_lots t
	  LEFT JOIN (SELECT al.client_id, al.program_id, al.lot_id, sum(al.points) AS total
				   FROM crm.loyalty_allocations al GROUP BY 1, 2, 3) s
		ON s.client_id = t.client_id AND s.program_id = t.program_id AND s.lot_id = t.lot_id
	 WHERE t.points + coalesce(s.total, 0) < 0 OR coalesce(s.total, 0) > 0
		OR t.points + coalesce(s.total, 0) <> t.remaining
	UNION ALL
	/* every credit of new points has its lot, of its size */
	SELECT 'credit_has_lot', l.client_id, l.program_id, l.entry_id,
		   format('entry of %s points, lot of %s', l.points, coalesce(t.points::text, 'none'))
	  FROM crm.loyalty_ledger l
	  LEFT JOIN crm.loyalty_lots t
		ON t.client_id = l.client_id AND t.program_id = l.program_id AND t.lot_id = l.entry_id
	 WHERE l.lot_id = l.entry_id AND t.points IS DISTINCT FROM l.points
	UNION ALL
	/* no allocation draws a lot that expired before the drawing entry */
	SELECT 'draw_from_expired_lot', al.client_id, al.program_id, al.entry_id,
		   format('draws %s from lot %s expired at %s', -al.points, al.lot_id, t.expires_at)
	  FROM crm.loyalty_allocations al
	  JOIN crm.loyalty_ledger l
		ON l.client_id = al.client_id AND l.program_id = al.program_id AND l.entry_id = al.entry_id
	  JOIN crm.loyalty_lots t
		ON t.client_id = al.client_id AND t.program_id = al.program_id AND t.lot_id = al.lot_id
	 WHERE al.points < 0 AND l.kind IN ('redeem', 'adjust') AND t.expires_at <= l.created_at
	UNION ALL
	/* no entry is reversed beyond its points */
	SELECT 'entry_over_reversed', o.client_id, o.program_id, o.entry_id,
		   format('entry of %s points, reversals cover %s', o.points, s.total)
	  FROM crm.loyalty_ledger o
	  JOIN (SELECT r.client_id, r.program_id, r.reversed_entry_id,
				   sum(abs(r.points) + r.unrecovered) AS total
			  FROM crm.loyalty_reversals r GROUP BY 1, 2, 3) s
		ON s.client_id = o.client_id AND s.program_id = o.program_id AND s.reversed_entry_id = o.entry_id
	 WHERE s.total > abs(o.points) OR o.kind IN ('reversal', 'expire')
	UNION ALL
	/* a reversal entry moves what its reversal rows say */
	SELECT 'reversal_equals_parts', l.client_id, l.program_id, l.entry_id,
		   format('entry %s points %s unrecovered, parts %s points %s unrecovered',
				  l.points, l.unrecovered, coalesce(s.moved, 0), coalesce(s.unrec, 0))
	  FROM crm.loyalty_ledger l
	  LEFT JOIN (SELECT r.client_id, r.program_id, r.entry_id,
						sum(r.points) AS moved, sum(r.unrecovered) AS unrec
				   FROM crm.loyalty_reversals r GROUP BY 1, 2, 3) s
		ON s.client_id = l.client_id AND s.program_id = l.program_id AND s.entry_id = l.entry_id
	 WHERE l.kind = 'reversal'
	   AND (l.points <> coalesce(s.moved, 0) OR l.unrecovered <> coalesce(s.unrec, 0))
	UNION ALL
	/* every reference inside the ledger resolves */
	SELECT 'dangling_reference', x.client_id, x.program_id, x.entry_id, x.what
	  FROM (SELECT l.client_id, l.program_id, l.entry_id, format('lot %s of the entry', l.lot_id) AS what
			  FROM crm.loyalty_ledger l
			 WHERE l.lot_id IS NOT NULL
			   AND NOT EXISTS (SELECT 1 FROM crm.loyalty_lots t
								WHERE t.client_id = l.client_id AND t.program_id = l.program_id
								  AND t.lot_id = l.lot_id)
			UNION ALL
			SELECT l.client_id, l.program_id, l.entry_id, format('reversed entry %s', l.reverses_entry_id)
			  FROM crm.loyalty_ledger l
			 WHERE l.reverses_entry_id IS NOT NULL
			   AND NOT EXISTS (SELECT 1 FROM crm.loyalty_ledger o
								WHERE o.client_id = l.client_id AND o.program_id = l.program_id
								  AND o.entry_id = l.reverses_entry_id)
			UNION ALL
			SELECT l.client_id, l.program_id, l.entry_id, 'entry without its account'
			  FROM crm.loyalty_ledger l
			 WHERE NOT EXISTS (SELECT 1 FROM crm.loyalty_accounts a
								WHERE a.client_id = l.client_id AND a.program_id = l.program_id)
			UNION ALL
			SELECT t.client_id, t.program_id, t.lot_id, 'lot without its credit entry'
			  FROM crm.loyalty_lots t
			 WHERE NOT EXISTS (SELECT 1 FROM crm.loyalty_ledger o
								WHERE o.client_id = t.client_id AND o.program_id = t.program_id
								  AND o.entry_id = t.lot_id AND o.lot_id = t.lot_id)
			UNION ALL
			SELECT al.client_id, al.program_id, al.entry_id, format('allocation to lot %s', al.lot_id)
			  FROM crm.loyalty_allocations al
			 WHERE NOT EXISTS (SELECT 1 FROM crm.loyalty_ledger o
								WHERE o.client_id = al.client_id AND o.program_id = al.program_id
								  AND o.entry_id = al.entry_id)
				OR NOT EXISTS (SELECT 1 FROM crm.loyalty_lots t
								WHERE t.client_id = al.client_id AND t.program_id = al.program_id
								  AND t.lot_id = al.lot_id)
			UNION ALL
			SELECT r.client_id, r.program_id, r.entry_id, format('reversal of entry %s', r.reversed_entry_id)
			  FROM crm.loyalty_reversals r
			 WHERE NOT EXISTS (SELECT 1 FROM crm.loyalty_ledger o
								WHERE o.client_id = r.client_id AND o.program_id = r.program_id
								  AND o.entry_id = r.entry_id AND o.kind = 'reversal')
				OR NOT EXISTS (SELECT 1 FROM crm.loyalty_ledger o
								WHERE o.client_id = r.client_id AND o.program_id = r.program_id
								  AND o.entry_id = r.reversed_entry_id)) x
	UNION ALL
	/* a household transfer adds up to zero: what the givers lost, the redeemer got */
	SELECT 'household_transfer_balanced', NULL, t.program_id, t.transfer,
		   format('transfer %s: its entries sum to %s', t.transfer, t.total)
	  FROM (SELECT (l.request->>'transfer')::bigint AS transfer, min(l.program_id) AS program_id,
				   sum(l.points) AS total
			  FROM crm.loyalty_ledger l
			 WHERE l.source = 'household_transfer'
			 GROUP BY 1) t
	 WHERE t.total <> 0
	UNION ALL
	/*
	 * every membership belongs to a household of its programme, open while
	 * the membership lasts (the reference spans two clients: each side is
	 * read on its own, which a Citus cluster does shard by shard)
	 */
	(WITH h AS MATERIALIZED (
			SELECT x.client_id, x.household_id, x.program_id, x.closed_at FROM crm.households x),
		  mb AS MATERIALIZED (
			SELECT x.client_id, x.program_id, x.membership_id, x.owner_client_id, x.household_id,
				   x.left_at
			  FROM crm.household_members x)
	 SELECT 'household_member_resolves', mb.client_id, mb.program_id, NULL::bigint,
			format('membership %s names household %s of client %s%s', mb.membership_id,
				   mb.household_id, mb.owner_client_id,
				   CASE WHEN h.household_id IS NULL THEN ', which does not exist'
						WHEN h.program_id <> mb.program_id THEN ', which is of another programme'
						ELSE ', which is closed' END)
	   FROM mb
	   LEFT JOIN h ON h.client_id = mb.owner_client_id AND h.household_id = mb.household_id
	  WHERE h.household_id IS NULL OR h.program_id <> mb.program_id
		 OR (mb.left_at IS NULL AND h.closed_at IS NOT NULL))
	UNION ALL
	/* the ledger is append-only: its guards are in place */
	SELECT 'append_only_trigger', NULL, NULL, NULL,
		   format('trigger %s on %s is missing or not enabled always', g.name, g.tab)
	  FROM (VALUES ('loyalty_ledger_append_only', 'crm.loyalty_ledger'),
				   ('loyalty_ledger_no_truncate', 'crm.loyalty_ledger'),
				   ('loyalty_allocations_append_only', 'crm.loyalty_allocations'),
				   ('loyalty_allocations_no_truncate', 'crm.loyalty_allocations'),
				   ('loyalty_reversals_append_only', 'crm.loyalty_reversals'),
				   ('loyalty_reversals_no_truncate', 'crm.loyalty_reversals'),
				   ('loyalty_tier_changes_append_only', 'crm.loyalty_tier_changes'),
				   ('loyalty_tier_changes_no_truncate', 'crm.loyalty_tier_changes'),
				   ('loyalty_account_guard', 'crm.loyalty_accounts'),
				   ('loyalty_account_no_truncate', 'crm.loyalty_accounts')) g(name, tab)
	 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger tg
						WHERE tg.tgrelid = g.tab::regclass AND tg.tgname = g.name
						  AND tg.tgenabled = 'A')
	ORDER BY 1, 2, 3, 4
$$;
COMMENT ON FUNCTION crm.verify_ledger() IS 'checks every invariant of the loyalty ledger (balances = sum of entries, running balances, no negative balance, lots neither over-drawn nor over-filled, no draw from an expired lot, no entry reversed twice, every reference inside the ledger resolves, every entry has its account, household transfers add up to zero, every household membership resolves, append-only and account guards) and returns each violation; no rows = clean';

/*
 * Privileges: the loyalty functions run as the extension's owner (the
 * writing ones SECURITY DEFINER), so nobody may call them until the DBA
 * grants EXECUTE; the internal helpers are never granted.
 */
DO $$
DECLARE
	f			regprocedure;
BEGIN
	FOR f IN
		SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
		 WHERE p.pronamespace = 'crm'::regnamespace
		   AND p.proname IN ('loyalty_program_row', 'loyalty_check_args', 'loyalty_lock_account',
							 'loyalty_replay', 'loyalty_append', 'loyalty_expire_account',
							 'loyalty_debit', 'loyalty_order_row', 'loyalty_entry_valid',
							 'loyalty_order_redeemed', 'loyalty_reverse_plan', 'loyalty_award',
							 'loyalty_is_birthday', 'loyalty_earn_sql', 'loyalty_redeem_sql',
							 'loyalty_earn', 'loyalty_redeem_cap', 'loyalty_raise',
							 'loyalty_check_client', 'loyalty_refuse_future',
							 'loyalty_refuse_in_citus_task', 'loyalty_household_lock',
							 'loyalty_membership', 'loyalty_household_lock_accounts',
							 'loyalty_household_draw', 'loyalty_household_args',
							 'create_household', 'join_household', 'leave_household',
							 'set_household_limit', 'household_balance', 'household_statement',
							 'earn_points', 'redeem_points', 'adjust_points', 'reverse_entry',
							 'refund_order_points', 'points_balance', 'points_statement',
							 'points_expiring', 'open_loyalty_account', 'award_order_points',
							 'award_paid_orders', 'award_welcome_bonus', 'award_welcome_bonuses',
							 'award_birthday_bonus', 'award_birthday_bonuses', 'tier_turnover',
							 'update_tier', 'update_tiers', 'expire_points', 'verify_ledger')
	LOOP
		EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
	END LOOP;
END
$$;
