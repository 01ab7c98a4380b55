-- placeholder smoke test, replaced below
SELECT count(*) AS tables FROM pg_tables WHERE schemaname = 'crm';
