/*
 * crm.earn_points and crm.redeem_points, the calls an application makes
 * on every purchase, in C (src/loyalty_fast.c).
 *
 * Their SQL implementations, crm.loyalty_earn_sql and
 * crm.loyalty_redeem_sql (84_loyalty_ops.sql), define the operations.
 * The C functions do the common call -- no order, no explicit expiry, an
 * existing account, a new key and, for a redemption, enough points and
 * no lot due to expire -- by reading the tables' indexes, locking the
 * account row and writing through the executor's single-row routines,
 * which check every constraint, maintain every index and fire every row
 * trigger; any other call, and every call when a table is no longer as
 * installed, goes to the SQL implementation before anything is written.
 */

CREATE FUNCTION crm.earn_points(client_id bigint, program text, points bigint,
								idempotency_key text, order_id bigint DEFAULT NULL,
								expires_at timestamptz DEFAULT NULL, note text DEFAULT NULL,
								actor text DEFAULT NULL)
RETURNS crm.loyalty_ledger
AS 'MODULE_PATHNAME', 'loyalty_earn_points'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp;
COMMENT ON FUNCTION crm.earn_points(bigint, text, bigint, text, bigint, timestamptz, text, text) IS 'credits points to a client''s account (opened if needed) as a new lot expiring at expires_at (default: now + the programme''s points_lifetime); idempotent by key';

CREATE FUNCTION crm.redeem_points(client_id bigint, program text, points bigint,
								  idempotency_key text, order_id bigint DEFAULT NULL,
								  note text DEFAULT NULL, actor text DEFAULT NULL)
RETURNS crm.loyalty_ledger
AS 'MODULE_PATHNAME', 'loyalty_redeem_points'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp;
COMMENT ON FUNCTION crm.redeem_points(bigint, text, bigint, text, bigint, text, text) IS 'spends points lot by lot in the programme''s lot order; never below zero (LY001 with the available balance); with an order, at most max_redeem_share of it (LY003); idempotent by key';
