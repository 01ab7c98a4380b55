#!/usr/bin/env bash
#
# test/scripts/upgrade_catalog.sh: every released version of crm, updated
# with ALTER EXTENSION crm UPDATE, gives the same catalog as a fresh
# CREATE EXTENSION crm of the current version, and works the same.
#
# The versions come from the installed extension directory: every version
# older than the control file's default_version, named by a full script
# crm--X.Y.Z.sql or an update step crm--A--B.sql, is installed and updated
# (the oldest one first), so a new release is covered without editing this
# script.  For each, the catalog snapshot below
# (every extension member and its definition: functions, aggregates, types,
# operators, operator classes, tables, columns, constraints, indexes,
# triggers, views, policies, sequences, privileges, initial privileges,
# comments, pg_dump registration, the rows the install script ships, the
# roles it creates) is taken in both databases; any difference is printed
# as a unified diff and fails the test.  The same for crm_demo (the demo
# generator, inside crm before 0.3.0): created over an updated crm, it
# adopts the demo's tables the update detached, and its catalog is that of
# a fresh crm_demo.  Then demo data generated under the old version,
# updated, and adopted by crm_demo, gives the same data (the demo's truth
# rows kept) and the same analytics as on a fresh install.
#
# Each path runs in its own throwaway cluster (scripts/cluster.sh), so that
# roles, which belong to the cluster, are compared too: a role the update
# forgets to create is not hidden by one a fresh install made earlier.
#
# Environment: PG_CONFIG (the PostgreSQL crm is installed into).
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/cluster.sh
PG_CONFIG=${PG_CONFIG:-pg_config}
psql() { command psql -X -q -v ON_ERROR_STOP=1 "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

work=$(mktemp -d /tmp/crm-upgrade.XXXXXX)
trap 'rm -rf "$work"' EXIT

extdir="$("$PG_CONFIG" --sharedir)/extension"
newest=$(sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "$extdir/crm.control")
[ -n "$newest" ] || fail "no default_version in $extdir/crm.control"
[ -f "$extdir/crm--$newest.sql" ] || fail "no install script crm--$newest.sql in $extdir"
# every released version older than the newest, oldest first: those of the
# full install scripts (only the oldest is kept) and of the update steps
# crm--A--B.sql (CREATE EXTENSION crm VERSION 'B' then runs the oldest full
# script and the steps up to B)
older=()
while read -r v; do
	[ "$v" = "$newest" ] && break
	older+=("$v")
done < <(ls "$extdir" | sed -n -e 's/^crm--\([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\)\.sql$/\1/p' \
	-e 's/^crm--\([0-9.]*\)--\([0-9.]*\)\.sql$/\1\n\2/p' | sort -uV)
[ "${#older[@]}" -gt 0 ] || fail "no released version older than $newest in $extdir"
echo "current version $newest; updating from: ${older[*]}"

# The demo population and the moment every analytic is computed at.  The
# generator's rows come from the shared library, so the old version's
# generate_demo_data writes what the current one does (the 'rows' lines of
# the analytics check it); a BG/NBD fit on this seed converges (a fit that
# does not makes clv_report slow and its answers NaN, so that is checked).
demo="SELECT count(*) FROM crm.generate_demo_data(60, 5, '2025-01-01')"
as_of="'2025-01-01 00:00:00+00'"

# snapshot DB [EXTENSION]: the catalog of an extension (default crm) in
# database DB, one fact per line, sorted
snapshot() {
	psql -d "$1" -At -v ext="${2:-crm}" <<'SQL'
SET search_path = pg_catalog;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET extra_float_digits = 1;
-- the rows of a table in text form, sorted; without the columns that
-- default to the clock, which differ between any two installs
CREATE FUNCTION pg_temp.rows_of(rel regclass) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
	cols		text;
BEGIN
	SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
	  FROM pg_attribute a
	  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	 WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
	   AND coalesce(pg_get_expr(d.adbin, d.adrelid), '')
		   !~* '(now|clock_timestamp|statement_timestamp|transaction_timestamp)\(\)|current_(timestamp|date|time)|localtime';
	RETURN QUERY EXECUTE format('SELECT ROW(%s)::text FROM %s t ORDER BY 1', cols, rel);
END $$;
-- an ACL as sorted text, the default privileges spelt out
CREATE FUNCTION pg_temp.acl(a aclitem[], kind "char", owner oid) RETURNS text
LANGUAGE sql AS $$
	SELECT string_agg(x::text, ' ' ORDER BY x::text)
	  FROM unnest(coalesce(a, acldefault(kind, owner))) x
$$;
-- a regproc or regoperator, or '-' for none
CREATE FUNCTION pg_temp.fn(f oid) RETURNS text
LANGUAGE sql AS $$ SELECT CASE WHEN f = 0 THEN '-' ELSE f::regprocedure::text END $$;
CREATE FUNCTION pg_temp.op(o oid) RETURNS text
LANGUAGE sql AS $$ SELECT CASE WHEN o = 0 THEN '-' ELSE o::regoperator::text END $$;
CREATE FUNCTION pg_temp.ty(t oid) RETURNS text
LANGUAGE sql AS $$ SELECT CASE WHEN t = 0 THEN '-' ELSE format_type(t, NULL) END $$;

WITH ext AS (
	SELECT e.* FROM pg_extension e WHERE e.extname = :'ext'
), mem AS (
	SELECT d.classid, d.objid
	  FROM pg_depend d JOIN ext ON d.refobjid = ext.oid
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
), rel AS (
	SELECT c.* FROM pg_class c JOIN mem ON mem.classid = 'pg_class'::regclass AND mem.objid = c.oid
), pro AS (
	SELECT p.* FROM pg_proc p JOIN mem ON mem.classid = 'pg_proc'::regclass AND mem.objid = p.oid
), typ AS (
	SELECT t.* FROM pg_type t JOIN mem ON mem.classid = 'pg_type'::regclass AND mem.objid = t.oid
), col AS (
	SELECT a.*, rel.oid::regclass::text || '.' || quote_ident(a.attname) AS name,
		   row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS position
	  FROM pg_attribute a JOIN rel ON a.attrelid = rel.oid
	 WHERE a.attnum > 0 AND NOT a.attisdropped
), facts(section, obj, n, fact) AS (
	SELECT 'extension', ext.extname::text, 0,
		   format('version=%s relocatable=%s schema=%s owner=%s requires=%s',
				  ext.extversion, ext.extrelocatable, ext.extnamespace::regnamespace,
				  pg_get_userbyid(ext.extowner),
				  (SELECT string_agg(r.extname, ',' ORDER BY r.extname) FROM pg_depend d
					 JOIN pg_extension r ON r.oid = d.refobjid
					WHERE d.classid = 'pg_extension'::regclass AND d.objid = ext.oid
					  AND d.refclassid = 'pg_extension'::regclass))
	  FROM ext
	-- every member of the extension
	UNION ALL
	SELECT 'member', pg_describe_object(mem.classid, mem.objid, 0), 0, '' FROM mem
	-- objects in schema crm that are not members (for example detached by an update)
	UNION ALL
	SELECT 'not a member', pg_describe_object(x.classid, x.objid, 0), 0, ''
	  FROM (SELECT 'pg_class'::regclass AS classid, c.oid AS objid FROM pg_class c
			 WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
			UNION ALL
			SELECT 'pg_proc'::regclass, p.oid FROM pg_proc p WHERE p.pronamespace = 'crm'::regnamespace
			UNION ALL
			SELECT 'pg_type'::regclass, t.oid FROM pg_type t
			 WHERE t.typnamespace = 'crm'::regnamespace AND t.typrelid = 0
			   AND NOT (t.typcategory = 'A' AND t.typelem <> 0)) x
	 WHERE NOT EXISTS (SELECT FROM mem WHERE mem.classid = x.classid AND mem.objid = x.objid)
	-- functions, procedures and aggregates: their attributes, then the whole definition
	UNION ALL
	SELECT 'function', pro.oid::regprocedure::text, 0,
		   format('kind=%s lang=%s args=(%s) result=%s volatility=%s strict=%s parallel=%s '
				  'security_definer=%s leakproof=%s cost=%s rows=%s support=%s config=%s owner=%s',
				  pro.prokind, l.lanname, pg_get_function_arguments(pro.oid),
				  pg_get_function_result(pro.oid), pro.provolatile, pro.proisstrict,
				  pro.proparallel, pro.prosecdef, pro.proleakproof, pro.procost, pro.prorows,
				  pg_temp.fn(pro.prosupport), pro.proconfig, pg_get_userbyid(pro.proowner))
	  FROM pro JOIN pg_language l ON l.oid = pro.prolang
	UNION ALL
	SELECT 'function', pro.oid::regprocedure::text, d.n, d.line
	  FROM pro, regexp_split_to_table(pg_get_functiondef(pro.oid), E'\n') WITH ORDINALITY d(line, n)
	 WHERE pro.prokind IN ('f', 'p')
	UNION ALL
	SELECT 'aggregate', a.aggfnoid::regprocedure::text, 0,
		   format('kind=%s direct_args=%s transfn=%s finalfn=%s combinefn=%s serialfn=%s '
				  'deserialfn=%s mtransfn=%s minvtransfn=%s mfinalfn=%s finalextra=%s '
				  'mfinalextra=%s finalmodify=%s mfinalmodify=%s sortop=%s transtype=%s '
				  'transspace=%s mtranstype=%s mtransspace=%s initval=%s minitval=%s',
				  a.aggkind, a.aggnumdirectargs, pg_temp.fn(a.aggtransfn), pg_temp.fn(a.aggfinalfn),
				  pg_temp.fn(a.aggcombinefn), pg_temp.fn(a.aggserialfn),
				  pg_temp.fn(a.aggdeserialfn), pg_temp.fn(a.aggmtransfn),
				  pg_temp.fn(a.aggminvtransfn), pg_temp.fn(a.aggmfinalfn), a.aggfinalextra,
				  a.aggmfinalextra, a.aggfinalmodify, a.aggmfinalmodify, pg_temp.op(a.aggsortop),
				  pg_temp.ty(a.aggtranstype), a.aggtransspace, pg_temp.ty(a.aggmtranstype),
				  a.aggmtransspace, a.agginitval, a.aggminitval)
	  FROM pg_aggregate a JOIN pro ON pro.oid = a.aggfnoid
	-- types: base, composite, domain, enum, range
	UNION ALL
	SELECT 'type', format_type(typ.oid, NULL), 0,
		   format('kind=%s category=%s preferred=%s len=%s byval=%s align=%s storage=%s '
				  'input=%s output=%s receive=%s send=%s typmodin=%s typmodout=%s analyze=%s '
				  'subscript=%s elem=%s array=%s base=%s typmod=%s ndims=%s notnull=%s '
				  'default=%s collation=%s delim=%s owner=%s',
				  typ.typtype, typ.typcategory, typ.typispreferred, typ.typlen, typ.typbyval,
				  typ.typalign, typ.typstorage, pg_temp.fn(typ.typinput), pg_temp.fn(typ.typoutput),
				  pg_temp.fn(typ.typreceive), pg_temp.fn(typ.typsend), pg_temp.fn(typ.typmodin),
				  pg_temp.fn(typ.typmodout), pg_temp.fn(typ.typanalyze), pg_temp.fn(typ.typsubscript),
				  pg_temp.ty(typ.typelem), pg_temp.ty(typ.typarray), pg_temp.ty(typ.typbasetype),
				  typ.typtypmod, typ.typndims, typ.typnotnull, typ.typdefault,
				  (SELECT c.collname FROM pg_collation c WHERE c.oid = typ.typcollation),
				  typ.typdelim, pg_get_userbyid(typ.typowner))
	  FROM typ
	UNION ALL
	SELECT 'type', format_type(typ.oid, NULL), a.attnum,
		   format('attribute %s %s collation=%s', quote_ident(a.attname),
				  format_type(a.atttypid, a.atttypmod),
				  (SELECT c.collname FROM pg_collation c WHERE c.oid = a.attcollation))
	  FROM typ JOIN pg_attribute a ON a.attrelid = typ.typrelid
	 WHERE a.attnum > 0 AND NOT a.attisdropped
	UNION ALL
	SELECT 'type', format_type(typ.oid, NULL), 1000 + row_number() OVER (PARTITION BY typ.oid ORDER BY e.enumsortorder),
		   'label ' || e.enumlabel
	  FROM typ JOIN pg_enum e ON e.enumtypid = typ.oid
	UNION ALL
	SELECT 'type', format_type(typ.oid, NULL), 2000,
		   format('range subtype=%s opclass=%s collation=%s canonical=%s subdiff=%s multirange=%s',
				  pg_temp.ty(r.rngsubtype), r.rngsubopc::regclass, r.rngcollation,
				  pg_temp.fn(r.rngcanonical), pg_temp.fn(r.rngsubdiff), pg_temp.ty(r.rngmultitypid))
	  FROM typ JOIN pg_range r ON r.rngtypid = typ.oid
	UNION ALL
	SELECT 'constraint', format_type(typ.oid, NULL) || ' ' || quote_ident(c.conname), 0,
		   pg_get_constraintdef(c.oid) || CASE WHEN c.convalidated THEN '' ELSE ' (not validated)' END
	  FROM typ JOIN pg_constraint c ON c.contypid = typ.oid
	-- operators, operator classes and families
	UNION ALL
	SELECT 'operator', o.oid::regoperator::text, 0,
		   format('kind=%s result=%s code=%s commutator=%s negator=%s restrict=%s join=%s '
				  'merges=%s hashes=%s owner=%s',
				  o.oprkind, pg_temp.ty(o.oprresult), pg_temp.fn(o.oprcode), pg_temp.op(o.oprcom),
				  pg_temp.op(o.oprnegate), pg_temp.fn(o.oprrest), pg_temp.fn(o.oprjoin),
				  o.oprcanmerge, o.oprcanhash, pg_get_userbyid(o.oprowner))
	  FROM pg_operator o JOIN mem ON mem.classid = 'pg_operator'::regclass AND mem.objid = o.oid
	UNION ALL
	SELECT 'operator class', pg_describe_object('pg_opclass'::regclass, c.oid, 0), 0,
		   format('type=%s default=%s family=%s storage=%s',
				  pg_temp.ty(c.opcintype), c.opcdefault,
				  pg_describe_object('pg_opfamily'::regclass, c.opcfamily, 0), pg_temp.ty(c.opckeytype))
	  FROM pg_opclass c JOIN mem ON mem.classid = 'pg_opclass'::regclass AND mem.objid = c.oid
	UNION ALL
	SELECT 'operator family', pg_describe_object('pg_opfamily'::regclass, f.oid, 0), 0,
		   format('operator %s %s(%s,%s) purpose=%s sortfamily=%s', o.amopstrategy,
				  pg_temp.op(o.amopopr), pg_temp.ty(o.amoplefttype), pg_temp.ty(o.amoprighttype),
				  o.amoppurpose, o.amopsortfamily)
	  FROM pg_opfamily f JOIN mem ON mem.classid = 'pg_opfamily'::regclass AND mem.objid = f.oid
	  JOIN pg_amop o ON o.amopfamily = f.oid
	UNION ALL
	SELECT 'operator family', pg_describe_object('pg_opfamily'::regclass, f.oid, 0), 0,
		   format('function %s %s(%s,%s)', p.amprocnum, pg_temp.fn(p.amproc),
				  pg_temp.ty(p.amproclefttype), pg_temp.ty(p.amprocrighttype))
	  FROM pg_opfamily f JOIN mem ON mem.classid = 'pg_opfamily'::regclass AND mem.objid = f.oid
	  JOIN pg_amproc p ON p.amprocfamily = f.oid
	UNION ALL
	SELECT 'cast', pg_describe_object(mem.classid, mem.objid, 0), 0,
		   format('function=%s context=%s method=%s', pg_temp.fn(c.castfunc), c.castcontext, c.castmethod)
	  FROM pg_cast c JOIN mem ON mem.classid = 'pg_cast'::regclass AND mem.objid = c.oid
	-- tables, views, sequences: the relation, its columns, constraints, indexes, triggers, rules, policies
	UNION ALL
	SELECT 'relation', rel.oid::regclass::text, 0,
		   format('kind=%s persistence=%s options=%s row_security=%s force_row_security=%s '
				  'replica_identity=%s access_method=%s tablespace=%s partition_key=%s '
				  'partition_of=%s %s owner=%s',
				  rel.relkind, rel.relpersistence, rel.reloptions, rel.relrowsecurity,
				  rel.relforcerowsecurity, rel.relreplident,
				  (SELECT amname FROM pg_am WHERE oid = rel.relam),
				  (SELECT spcname FROM pg_tablespace WHERE oid = rel.reltablespace),
				  CASE WHEN rel.relkind = 'p' THEN pg_get_partkeydef(rel.oid) END,
				  (SELECT string_agg(i.inhparent::regclass::text, ',' ORDER BY i.inhseqno)
					 FROM pg_inherits i WHERE i.inhrelid = rel.oid),
				  pg_get_expr(rel.relpartbound, rel.oid), pg_get_userbyid(rel.relowner))
	  FROM rel
	UNION ALL
	SELECT 'column', col.name, 0,
		   format('position=%s type=%s not_null=%s default=%s identity=%s generated=%s '
				  'collation=%s storage=%s compression=%s statistics=%s options=%s',
				  col.position, format_type(col.atttypid, col.atttypmod), col.attnotnull,
				  pg_get_expr(d.adbin, d.adrelid), col.attidentity, col.attgenerated,
				  (SELECT c.collname FROM pg_collation c WHERE c.oid = col.attcollation),
				  col.attstorage, col.attcompression, col.attstattarget,
				  -- this server build stores pg_attver=<a number that changes with
				  -- every CREATE TABLE> among the options of each column: not set by
				  -- an install script, so not compared
				  (SELECT array_agg(o ORDER BY o) FROM unnest(col.attoptions) o
					WHERE o NOT LIKE 'pg\_attver=%'))
	  FROM col LEFT JOIN pg_attrdef d ON d.adrelid = col.attrelid AND d.adnum = col.attnum
	UNION ALL
	SELECT 'constraint', rel.oid::regclass::text || ' ' || quote_ident(c.conname), 0,
		   pg_get_constraintdef(c.oid) || CASE WHEN c.convalidated THEN '' ELSE ' (not validated)' END
	  FROM rel JOIN pg_constraint c ON c.conrelid = rel.oid
	UNION ALL
	SELECT 'index', rel.oid::regclass::text || ' ' || i.indexrelid::regclass::text, 0,
		   pg_get_indexdef(i.indexrelid)
		   || CASE WHEN i.indisclustered THEN ' (clustered)' ELSE '' END
		   || CASE WHEN i.indisreplident THEN ' (replica identity)' ELSE '' END
		   || CASE WHEN i.indisvalid THEN '' ELSE ' (invalid)' END
	  FROM rel JOIN pg_index i ON i.indrelid = rel.oid
	UNION ALL
	SELECT 'trigger', rel.oid::regclass::text || ' ' || quote_ident(t.tgname), 0,
		   pg_get_triggerdef(t.oid) || ' (enabled=' || t.tgenabled::text || ')'
	  FROM rel JOIN pg_trigger t ON t.tgrelid = rel.oid
	 WHERE NOT t.tgisinternal
	UNION ALL
	SELECT 'rule', rel.oid::regclass::text || ' ' || quote_ident(r.rulename), 0,
		   pg_get_ruledef(r.oid) || ' (enabled=' || r.ev_enabled::text || ')'
	  FROM rel JOIN pg_rewrite r ON r.ev_class = rel.oid
	 WHERE r.rulename <> '_RETURN'
	UNION ALL
	SELECT 'view', rel.oid::regclass::text, d.n, d.line
	  FROM rel, regexp_split_to_table(pg_get_viewdef(rel.oid, true), E'\n') WITH ORDINALITY d(line, n)
	 WHERE rel.relkind IN ('v', 'm')
	UNION ALL
	SELECT 'policy', rel.oid::regclass::text || ' ' || quote_ident(p.polname), 0,
		   format('command=%s permissive=%s roles=%s using=%s with_check=%s', p.polcmd,
				  p.polpermissive,
				  (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END,
									 ',' ORDER BY 1)
					 FROM unnest(p.polroles) r),
				  pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
	  FROM rel JOIN pg_policy p ON p.polrelid = rel.oid
	UNION ALL
	SELECT 'sequence', rel.oid::regclass::text, 0,
		   format('type=%s start=%s increment=%s min=%s max=%s cache=%s cycle=%s last_value=%s owned_by=%s',
				  pg_temp.ty(s.seqtypid), s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache,
				  s.seqcycle, pg_sequence_last_value(rel.oid),
				  (SELECT string_agg(pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
									 || ' (' || d.deptype::text || ')', ',')
					 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = rel.oid
					  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
	  FROM rel JOIN pg_sequence s ON s.seqrelid = rel.oid
	-- privileges, with role names; default privileges spelt out
	UNION ALL
	SELECT 'privileges', 'schema ' || n.nspname, 0, pg_temp.acl(n.nspacl, 'n', n.nspowner)
	  FROM pg_namespace n WHERE n.nspname = 'crm'
	UNION ALL
	SELECT 'privileges', 'database', 0, pg_temp.acl(d.datacl, 'd', d.datdba)
	  FROM pg_database d WHERE d.datname = current_database()
	UNION ALL
	SELECT 'privileges', 'relation ' || rel.oid::regclass::text, 0,
		   pg_temp.acl(rel.relacl, CASE WHEN rel.relkind = 'S' THEN 's' ELSE 'r' END::"char", rel.relowner)
	  FROM rel
	UNION ALL
	SELECT 'privileges', 'column ' || col.name, 0, pg_temp.acl(col.attacl, 'c', 0)
	  FROM col WHERE col.attacl IS NOT NULL
	UNION ALL
	SELECT 'privileges', 'function ' || pro.oid::regprocedure::text, 0,
		   pg_temp.acl(pro.proacl, 'f', pro.proowner)
	  FROM pro
	UNION ALL
	SELECT 'privileges', 'type ' || format_type(typ.oid, NULL), 0,
		   pg_temp.acl(typ.typacl, 'T', typ.typowner)
	  FROM typ
	UNION ALL
	SELECT 'privileges', 'default privileges of ' || pg_get_userbyid(d.defaclrole) || ' in '
		   || CASE WHEN d.defaclnamespace = 0 THEN 'every schema' ELSE d.defaclnamespace::regnamespace::text END || ' on ' || d.defaclobjtype::text,
		   0, pg_temp.acl(d.defaclacl, 'r', 0)
	  FROM pg_default_acl d
	-- the privileges pg_dump takes as the extension's own (set by its scripts)
	UNION ALL
	SELECT 'initial privileges', pg_describe_object(i.classoid, i.objoid, i.objsubid), 0,
		   i.privtype::text || ' ' || (SELECT string_agg(x::text, ' ' ORDER BY x::text) FROM unnest(i.initprivs) x)
	  FROM pg_init_privs i WHERE i.objoid >= 16384
	-- comments on everything the database holds beyond the built-in objects
	UNION ALL
	SELECT 'comment', pg_describe_object(d.classoid, d.objoid, d.objsubid), 0, d.description
	  FROM pg_description d WHERE d.objoid >= 16384
	-- what pg_dump dumps of the extension's tables
	UNION ALL
	SELECT 'config dump', c.rel::regclass::text, 0, 'condition ' || quote_literal(coalesce(c.cond, '(none)'))
	  FROM ext, unnest(ext.extconfig, ext.extcondition) c(rel, cond)
	-- the rows the install script leaves in the extension's tables
	UNION ALL
	SELECT 'rows', rel.oid::regclass::text, 0, r
	  FROM rel, pg_temp.rows_of(rel.oid) r
	 WHERE rel.relkind IN ('r', 'p')
	-- roles beyond the bootstrap user and the predefined roles (the cluster is this test's own)
	UNION ALL
	SELECT 'role', r.rolname::text, 0,
		   format('superuser=%s inherit=%s createrole=%s createdb=%s login=%s replication=%s '
				  'bypassrls=%s connection_limit=%s valid_until=%s config=%s',
				  r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
				  r.rolreplication, r.rolbypassrls, r.rolconnlimit, r.rolvaliduntil, r.rolconfig)
	  FROM pg_roles r WHERE r.oid >= 16384
	UNION ALL
	SELECT 'role', pg_get_userbyid(m.member)::text, 0,
		   format('member of %s admin=%s', pg_get_userbyid(m.roleid), m.admin_option)
	  FROM pg_auth_members m WHERE m.member >= 16384 OR m.roleid >= 16384
	UNION ALL
	SELECT 'role', pg_get_userbyid(d.objoid)::text, 0, 'comment ' || d.description
	  FROM pg_shdescription d WHERE d.classoid = 'pg_authid'::regclass AND d.objoid >= 16384
)
SELECT section || ' | ' || obj || CASE WHEN fact <> '' THEN ' | ' || replace(fact, E'\n', '\n') ELSE '' END
  FROM facts
 ORDER BY section, obj, n, fact;
SQL
}

# analytics DB: the demo data and what the analytics make of it
analytics() {
	psql -d "$1" -At -v as_of="$as_of" <<'SQL'
SET statement_timeout = '30s';
SET TimeZone = 'UTC';
SET extra_float_digits = 1;
SELECT 'rows ' || t || ' ' || n FROM (
	SELECT 'clients' t, md5(string_agg(x::text, ',' ORDER BY client_id)) n FROM crm.clients x
	UNION ALL SELECT 'demo_clients', md5(string_agg(x::text, ',' ORDER BY client_id)) FROM crm.demo_clients x
	UNION ALL SELECT 'consents', md5(string_agg(x::text, ',' ORDER BY client_id, channel, changed_at)) FROM crm.consents x
	UNION ALL SELECT 'orders', md5(string_agg(x::text, ',' ORDER BY client_id, order_id)) FROM crm.orders x
	UNION ALL SELECT 'order_lines', md5(string_agg(x::text, ',' ORDER BY client_id, order_id, line_no)) FROM crm.order_lines x
	UNION ALL SELECT 'interactions', md5(string_agg(x::text, ',' ORDER BY client_id, interaction_id)) FROM crm.interactions x
	UNION ALL SELECT 'demo_clients_count', count(*)::text FROM crm.demo_clients) s ORDER BY 1;
SELECT 'rfm ' || r::text FROM crm.rfm_scores(:as_of) r ORDER BY r.client_id;
SELECT 'churn ' || (c.client_id, c.status, c.behaviour_class, c.expected_gap_days, c.overdue_ratio, c.p_gap)::text
  FROM crm.churn_signals(:as_of) c ORDER BY c.client_id;
SELECT 'bgnbd ' || crm.bgnbd_fit(frequency, recency, t)::text FROM crm.clv_summary(:as_of, 'week');
SELECT 'gamma-gamma ' || crm.gamma_gamma_fit(frequency, monetary)::text FROM crm.clv_summary(:as_of, 'week');
SELECT 'clv ' || c::text FROM crm.clv_report(:as_of, 52, 'week', discount_rate => 0.002) c
 WHERE c.client_id <= 10 ORDER BY c.client_id;
SELECT 'abc ' || a::text FROM crm.abc_analysis(:as_of) a WHERE a.client_id <= 10 ORDER BY a.client_id;
SELECT 'card ' || crm.client_card(c)::text FROM generate_series(1, 3) c;
SQL
}

# in_own_cluster WHAT COMMAND...: COMMAND in a throwaway cluster of its own,
# stopped and removed after it; a failure of any step fails the test.  (The
# subshell is not run under || or if: bash would ignore set -e inside it.)
in_own_cluster() {
	local what=$1 rc
	shift
	set +e
	(
		set -e
		crm_cluster_start fsync=off
		"$@"
	)
	rc=$?
	set -e
	[ "$rc" = 0 ] || fail "$what failed"
}

fresh() {
	psql -d postgres -c 'CREATE DATABASE crm_upgrade' -c 'CREATE DATABASE crm_upgrade_data'
	psql -d crm_upgrade -c 'CREATE EXTENSION crm'
	# crm alone has no demo object
	[ "$(psql -d crm_upgrade -At -c "SELECT count(*) FROM pg_class WHERE relnamespace = 'crm'::regnamespace AND relname LIKE 'demo%'")$(psql -d crm_upgrade -At -c "SELECT count(*) FROM pg_proc WHERE pronamespace = 'crm'::regnamespace AND (proname LIKE 'demo%' OR proname LIKE '%demo_data')")" = 00 ] \
		|| fail "a fresh crm has demo objects"
	psql -d crm_upgrade -c 'CREATE EXTENSION crm_demo'
	snapshot crm_upgrade >"$work/catalog-fresh"
	snapshot crm_upgrade crm_demo >"$work/catalog-demo-fresh"
	psql -d crm_upgrade_data -c 'CREATE EXTENSION crm' -c 'CREATE EXTENSION crm_demo' -c "$demo" >/dev/null
	analytics crm_upgrade_data >"$work/analytics-fresh"
}

updated() {
	psql -d postgres -c 'CREATE DATABASE crm_upgrade' -c 'CREATE DATABASE crm_upgrade_data'
	psql -d crm_upgrade -c "CREATE EXTENSION crm VERSION '$1'" -c 'ALTER EXTENSION crm UPDATE'
	# the demo's tables, detached from crm by the update, adopted by crm_demo
	psql -d crm_upgrade -c 'CREATE EXTENSION crm_demo'
	snapshot crm_upgrade >"$work/catalog-$1"
	snapshot crm_upgrade crm_demo >"$work/catalog-demo-$1"
	# demo data written under the old version (its generator inside crm),
	# then the update over full tables: the truth rows stay, outside crm,
	# until crm_demo adopts them
	psql -d crm_upgrade_data -c "CREATE EXTENSION crm VERSION '$1'" -c "$demo" >/dev/null
	psql -d crm_upgrade_data -c 'ALTER EXTENSION crm UPDATE'
	[ "$(psql -d crm_upgrade_data -At -c "SELECT count(*) FROM crm.demo_clients")" -gt 0 ] \
		|| fail "the update to $newest lost the rows of crm.demo_clients"
	psql -d crm_upgrade_data -c 'CREATE EXTENSION crm_demo'
	analytics crm_upgrade_data >"$work/analytics-$1"
}

in_own_cluster "a fresh CREATE EXTENSION crm" fresh
# sanity: the snapshot saw the catalog (an empty snapshot would equal another)
for section in extension member function aggregate type operator 'operator class' \
	'operator family' relation column constraint index trigger sequence privileges \
	'initial privileges' comment 'config dump' rows policy view role; do
	n=$(grep -c "^$section | " "$work/catalog-fresh" || true)
	[ "$n" -gt 0 ] || fail "the catalog snapshot of a fresh install has no '$section' line"
done
grep -q "^extension | crm | version=$newest " "$work/catalog-fresh" \
	|| fail "a fresh install is not at version $newest"
# a fit that did not converge would make the comparison slow and weak
# (converged is the eighth field: r, alpha, a, b, loglik, n, iterations, converged, ...)
grep -Eq '^bgnbd \(([^,]*,){7}t[,)]' "$work/analytics-fresh" || fail "the BG/NBD fit on the demo data did not converge"
for what in rfm churn bgnbd gamma-gamma clv abc card; do
	grep -q "^$what " "$work/analytics-fresh" || fail "no '$what' result on a fresh install"
done
echo "fresh $newest: $(grep -c '^member ' "$work/catalog-fresh") members, $(wc -l <"$work/catalog-fresh") catalog facts, $(wc -l <"$work/analytics-fresh") analytics lines"

status=0
for v in "${older[@]}"; do
	in_own_cluster "installing $v and updating it to $newest" updated "$v"
	if diff -u --label "fresh $newest" --label "$v, then ALTER EXTENSION crm UPDATE" \
		"$work/catalog-fresh" "$work/catalog-$v"; then
		echo "catalog: $v updated = fresh $newest ($(wc -l <"$work/catalog-$v") facts)"
	else
		echo "FAIL: the catalog of $v updated to $newest differs from a fresh install (- fresh, + updated)" >&2
		status=1
	fi
	if diff -u --label "fresh crm_demo" --label "$v updated, then CREATE EXTENSION crm_demo" \
		"$work/catalog-demo-fresh" "$work/catalog-demo-$v"; then
		echo "catalog: crm_demo over $v updated = a fresh crm_demo ($(wc -l <"$work/catalog-demo-$v") facts)"
	else
		echo "FAIL: the catalog of crm_demo over $v updated differs from a fresh one (- fresh, + updated)" >&2
		status=1
	fi
	if diff -u --label "fresh $newest" --label "$v with demo data, then updated" \
		"$work/analytics-fresh" "$work/analytics-$v"; then
		echo "analytics: $v updated = fresh $newest"
	else
		echo "FAIL: demo data and analytics differ between $v updated and a fresh $newest" >&2
		status=1
	fi
done
exit $status
