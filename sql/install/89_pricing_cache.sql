/*
 * What crm.price_cart keeps between calls (src/discount_cache.c): each
 * backend keeps the active general rules of crm.discount_rules (those for
 * every client) and the category tree, read once, and uses them for as long
 * as the version below, read under the call's own snapshot, is the one they
 * were read at.  Every statement that writes crm.discount_rules or
 * crm.categories first adds one to the version (a BEFORE ... FOR EACH
 * STATEMENT trigger, in the writer's transaction), so that a snapshot that
 * sees a change sees a new version too, and one that does not see it does
 * not: an uncommitted change is seen by its own transaction only (which
 * reads the rules by query until it ends), a rolled-back one by nobody.
 */
CREATE TABLE crm.pricing_version (
	singleton		boolean NOT NULL DEFAULT true,
	version			bigint NOT NULL DEFAULT 1,
	CONSTRAINT pricing_version_pkey PRIMARY KEY (singleton),
	CONSTRAINT pricing_version_singleton_check CHECK (singleton)
);
COMMENT ON TABLE crm.pricing_version IS 'one row: the version of the discount rules and categories that crm.price_cart''s per-backend cache checks; every statement writing crm.discount_rules or crm.categories adds one';
INSERT INTO crm.pricing_version (singleton, version) VALUES (true, 1);
/* not data: a restored database has its row from CREATE EXTENSION and counts on from there */
SELECT pg_catalog.pg_extension_config_dump('crm.pricing_version', 'WHERE false');

/*
 * The writer's statement adds one to the version, as the owner of crm's
 * tables (writing a rule needs no privilege on this table).  On a Citus
 * cluster the rules are read by query (the cache is not used) and the
 * version is left alone; in a query a Citus node sent, nothing is done.
 */
CREATE FUNCTION crm.pricing_changed() RETURNS trigger
LANGUAGE c SECURITY DEFINER
SET search_path = pg_catalog, crm, pg_temp
AS 'MODULE_PATHNAME', 'discount_pricing_changed';
COMMENT ON FUNCTION crm.pricing_changed() IS 'trigger: adds one to crm.pricing_version before a statement writes crm.discount_rules or crm.categories, so that crm.price_cart''s cached rules are read again';
REVOKE EXECUTE ON FUNCTION crm.pricing_changed() FROM PUBLIC;
CREATE TRIGGER discount_rules_pricing_changed
	BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON crm.discount_rules
	FOR EACH STATEMENT EXECUTE FUNCTION crm.pricing_changed();
CREATE TRIGGER categories_pricing_changed
	BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON crm.categories
	FOR EACH STATEMENT EXECUTE FUNCTION crm.pricing_changed();
/* also on a logical replica, where the rows arrive with session_replication_role = replica */
ALTER TABLE crm.discount_rules ENABLE ALWAYS TRIGGER discount_rules_pricing_changed;
ALTER TABLE crm.categories ENABLE ALWAYS TRIGGER categories_pricing_changed;
