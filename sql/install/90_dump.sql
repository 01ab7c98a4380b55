/*
 * pg_dump keeps the rows of the extension's tables and the state of their
 * identity sequences.
 */
SELECT pg_catalog.pg_extension_config_dump('crm.clients', '');
SELECT pg_catalog.pg_extension_config_dump('crm.consents', '');
SELECT pg_catalog.pg_extension_config_dump('crm.categories', '');
SELECT pg_catalog.pg_extension_config_dump('crm.products', '');
SELECT pg_catalog.pg_extension_config_dump('crm.price_lists', '');
SELECT pg_catalog.pg_extension_config_dump('crm.prices', '');
SELECT pg_catalog.pg_extension_config_dump('crm.orders', '');
SELECT pg_catalog.pg_extension_config_dump('crm.order_lines', '');
SELECT pg_catalog.pg_extension_config_dump('crm.incidents', '');
SELECT pg_catalog.pg_extension_config_dump('crm.interactions', '');

-- one call per statement: each call updates the extension's catalog row
SELECT pg_catalog.pg_extension_config_dump('crm.clients_client_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crm.categories_category_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crm.products_product_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crm.price_lists_price_list_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crm.orders_order_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crm.incidents_incident_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crm.interactions_interaction_id_seq', '');
