/*
 * crm upgrade script, 0.2.0 to 0.3.0.
 *
 * Every change made to the install parts in sql/install/ since 0.2.0 is
 * repeated here, so that ALTER EXTENSION crm UPDATE gives the same catalog
 * as a fresh CREATE EXTENSION crm (test/scripts/upgrade_catalog.sh checks).
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION crm UPDATE TO '0.3.0'" to load this file. \quit
