--
-- Segment maps as data: the shipped maps are partitions, the published
-- 11-segment map is not, user maps are checked at commit; rfm_segment and
-- rfm_scores.
--
SELECT map_name, classes, builtin, description FROM crm.segment_maps ORDER BY map_name;

-- the shipped maps cover every cell exactly once
SELECT m.map_name, count(*) AS cells,
	   (SELECT count(*) FROM crm.segment_map_problems(m.map_name)) AS problems
  FROM crm.segment_maps m, crm.segment_map_coverage(m.map_name) c
 WHERE cardinality(c.segments) = 1
 GROUP BY m.map_name ORDER BY m.map_name;
SELECT segment, count(*) AS cells FROM crm.segment_map_cells('rfm11') GROUP BY 1 ORDER BY 2 DESC, 1;

-- the repaired 11-segment map, cell by cell: M = 1..5 left to right
SELECT crm.recency_score(rfm) AS r, crm.frequency_score(rfm) AS f,
	   string_agg(segment, ' | ' ORDER BY rfm) AS "m = 1 | 2 | 3 | 4 | 5"
  FROM crm.segment_map_cells('rfm11')
 GROUP BY 1, 2 ORDER BY 1 DESC, 2;

-- the R x F grid: monetary plays no part
SELECT crm.recency_score(rfm) AS r,
	   string_agg(segment, ' | ' ORDER BY rfm) FILTER (WHERE crm.monetary_score(rfm) = 1) AS "f = 1 | 2 | 3 | 4 | 5",
	   count(DISTINCT (crm.frequency_score(rfm), segment)) AS distinct_f_segment
  FROM crm.segment_map_cells('rf10')
 GROUP BY 1 ORDER BY 1 DESC;

-- the 11-segment map as commonly published is rejected
BEGIN;
INSERT INTO crm.segment_maps (map_name, description) VALUES ('published11', 'as published');
INSERT INTO crm.segment_map_rules (map_name, rule_no, segment, r_min, r_max, f_min, f_max, m_min, m_max) VALUES
	('published11',  1, 'Champions',          4, 5, 4, 5, 4, 5),
	('published11',  2, 'Loyal',              2, 5, 3, 5, 3, 5),
	('published11',  3, 'Potential loyalist', 3, 5, 1, 3, 1, 3),
	('published11',  4, 'New',                4, 5, 1, 1, 1, 1),
	('published11',  5, 'Promising',          3, 4, 1, 1, 1, 1),
	('published11',  6, 'Need attention',     2, 3, 2, 3, 2, 3),
	('published11',  7, 'About to sleep',     2, 3, 1, 2, 1, 2),
	('published11',  8, 'At risk',            1, 2, 2, 5, 2, 5),
	('published11',  9, 'Can''t lose them',   1, 1, 4, 5, 4, 5),
	('published11', 10, 'Hibernating',        1, 2, 1, 2, 1, 2),
	('published11', 11, 'Lost',               1, 2, 1, 2, 1, 2);
SELECT problem, count(*) AS cells FROM crm.segment_map_problems('published11') GROUP BY 1 ORDER BY 1;
SELECT * FROM crm.segment_map_problems('published11') ORDER BY rfm LIMIT 5;
SAVEPOINT before_check;
SET CONSTRAINTS ALL IMMEDIATE;
ROLLBACK TO before_check;
SELECT crm.rfm_segment('411', 'published11');
ROLLBACK;

-- a map of one's own: valid maps commit, invalid ones do not
BEGIN;
INSERT INTO crm.segment_maps (map_name, classes, description) VALUES ('recent2', 2, 'recent or not');
INSERT INTO crm.segment_map_rules VALUES
	('recent2', 1, 'recent', 2, 2, 1, 2, 1, 2),
	('recent2', 2, 'lapsed', 1, 1, 1, 2, 1, 2);
COMMIT;
SELECT crm.rfm_segment('211', 'recent2') AS s211, crm.rfm_segment('122', 'recent2') AS s122;
SELECT crm.rfm_segment('311', 'recent2');
BEGIN;
DELETE FROM crm.segment_map_rules WHERE map_name = 'recent2' AND rule_no = 2;
SET CONSTRAINTS ALL IMMEDIATE;
ROLLBACK;
BEGIN;
INSERT INTO crm.segment_map_rules VALUES ('recent2', 3, 'odd', 1, 3, 1, 1, 1, 1);
SELECT * FROM crm.segment_map_problems('recent2');
COMMIT;
DELETE FROM crm.segment_maps WHERE map_name = 'recent2';
-- a map without rules can be stored (restores load maps before rules) but not used
INSERT INTO crm.segment_maps (map_name, description) VALUES ('empty', 'no rules yet');
SELECT count(*) AS unmapped FROM crm.segment_map_problems('empty');
SELECT * FROM crm.segment_map_cells('empty');
SELECT crm.rfm_segment('111', 'empty');
DELETE FROM crm.segment_maps WHERE map_name = 'empty';

-- the shipped maps are read-only
UPDATE crm.segment_map_rules SET segment = 'Stars' WHERE map_name = 'rfm11' AND rule_no = 1;
DELETE FROM crm.segment_maps WHERE map_name = 'rf10';
INSERT INTO crm.segment_maps (map_name, description, builtin) VALUES ('mine', 'x', true);

-- rfm_segment
SELECT crm.rfm_segment('555') AS s555, crm.rfm_segment('111') AS s111,
	   crm.rfm_segment('145') AS s145, crm.rfm_segment('5-1-1', 'rf10') AS s511_rf10;
SELECT crm.rfm_segment('555', 'nosuchmap');
-- a NULL value or map is an error naming it
SELECT crm.rfm_segment(NULL);
SELECT crm.rfm_segment('555', NULL);

-- rfm_scores on hand-computed data (as of 2025-01-01)
SET TimeZone = 'UTC';
BEGIN;
INSERT INTO crm.clients (client_id, first_name) VALUES
	(901, 'a'), (902, 'b'), (903, 'c'), (904, 'd'), (905, 'e'), (906, 'f'), (907, 'g');
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount) VALUES
	(901, 1, '2024-12-31 10:00', 'web', 'paid', 100, 100),		-- r 0 days
	(901, 2, '2024-12-22', 'web', 'placed', 50, 50),
	(902, 3, '2024-11-22', 'store', 'paid', 500, 500),			-- r 40
	(903, 4, '2024-12-31', 'web', 'paid', 20, 20),				-- r 1
	(903, 5, '2024-12-29', 'web', 'paid', 20, 20),
	(903, 6, '2024-12-27', 'web', 'paid', 20, 20),
	(904, 7, '2024-06-15', 'web', 'paid', 50, 50),				-- r 200
	(904, 8, '2024-12-31', 'web', 'cancelled', 999, 999),		-- not a purchase
	(905, 9, '2024-11-22', 'web', 'paid', 0, 0),				-- r 40, zero spend
	(906, 10, '2025-01-02', 'web', 'paid', 5, 5),				-- after as_of
	(907, 11, '2024-12-01', 'web', 'refunded', 5, 5);			-- not a purchase
-- score = 1 + floor(5 * (clients strictly worse) / 5)
-- recency (more days is worse): 901 r=0 (4 worse) -> 5; 903 r=1 (3 worse) -> 4;
--   902 and 905 r=40 (1 worse) -> 2, a tie; 904 r=200 (none worse) -> 1
-- frequency: 1 (0 worse) -> 1, 2 (3 worse) -> 4, 3 (4 worse) -> 5
-- monetary: 0, 50, 60, 150, 500 -> 1, 2, 3, 4, 5
SELECT * FROM crm.rfm_scores('2025-01-01') ORDER BY client_id;
SELECT client_id, rfm, segment FROM crm.rfm_scores('2025-01-01', 'rf10') ORDER BY client_id;
-- the same with window functions only
WITH c AS (
	SELECT client_id, floor(extract(epoch FROM '2025-01-01'::timestamptz - max(ordered_at)) / 86400)::int AS r,
		   count(*) AS f, sum(net_amount) AS m
	  FROM crm.orders
	 WHERE status IN ('placed', 'paid') AND ordered_at <= '2025-01-01'
	 GROUP BY client_id)
SELECT client_id, r, f, m,
	   (1 + 5 * (rank() OVER (ORDER BY r DESC) - 1) / count(*) OVER ())::text
	   || (1 + 5 * (rank() OVER (ORDER BY f) - 1) / count(*) OVER ())::text
	   || (1 + 5 * (rank() OVER (ORDER BY m) - 1) / count(*) OVER ())::text AS rfm
  FROM c ORDER BY client_id;
-- monetary as the mean order value: 901 75, 902 500, 903 20, 904 50, 905 0:
-- 903 and 904 swap their M scores
SELECT client_id, monetary, rfm FROM crm.rfm_scores('2025-01-01', monetary_by => 'mean') ORDER BY client_id;
SELECT count(*) FROM crm.rfm_scores('2020-01-01');
SELECT * FROM crm.rfm_scores('2025-01-01', 'nosuchmap');
ROLLBACK;
SELECT * FROM crm.rfm_scores('2025-01-01', monetary_by => 'median');
