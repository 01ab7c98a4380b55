--
-- The crm.rfm type: text and binary forms, comparison, hashing, accessors.
--
SELECT '543'::crm.rfm AS plain, '5-4-3'::crm.rfm AS dashed, ' 111 '::crm.rfm AS spaced,
	   '999'::crm.rfm AS nines;

-- bad text: invalid_text_representation, naming the value
SELECT '60a'::crm.rfm;
SELECT '12'::crm.rfm;
SELECT ''::crm.rfm;
SELECT '5-43'::crm.rfm;
SELECT '543 1'::crm.rfm;
SELECT '0-1-1'::crm.rfm;
SELECT '5.4.3'::crm.rfm;
DO $$
BEGIN
	PERFORM '6x1'::crm.rfm;
EXCEPTION WHEN invalid_text_representation THEN
	RAISE NOTICE 'sqlstate %: %', SQLSTATE, SQLERRM;
END
$$;

-- constructor and accessors
SELECT crm.rfm(5, 4, 3) AS made, crm.recency_score('543') AS r,
	   crm.frequency_score('543') AS f, crm.monetary_score('543') AS m;
SELECT crm.rfm(0, 1, 1);
SELECT crm.rfm(1, 10, 1);
SELECT crm.rfm(1, 1, -1);
SELECT crm.rfm(NULL, 1, 1) IS NULL AS strict;

-- binary form: three bytes
SELECT crm.rfm_send('543') AS bytes;

-- ordering: recency, then frequency, then monetary
SET search_path = public, crm;
SELECT '543'::crm.rfm < '551' AS lt, '543'::crm.rfm <= '543' AS le,
	   '543'::crm.rfm = '5-4-3' AS eq, '543'::crm.rfm <> '543' AS ne,
	   '455'::crm.rfm > '511' AS gt, '111'::crm.rfm >= '112' AS ge,
	   crm.rfm_cmp('345', '354') AS cmp;
RESET search_path;

CREATE TEMP TABLE codes (c crm.rfm);
INSERT INTO codes SELECT crm.rfm(1 + i % 5, 1 + (i / 5) % 5, 1 + (i / 25) % 5)
  FROM generate_series(0, 249) i;

-- GROUP BY by sorting and by hashing, DISTINCT, ORDER BY
SET enable_hashagg = off;
SELECT c, count(*) FROM codes GROUP BY c ORDER BY c LIMIT 3;
RESET enable_hashagg;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT c, count(*) FROM codes GROUP BY c;
SELECT count(*) AS groups, min(n) AS min_n, max(n) AS max_n
  FROM (SELECT c, count(*) AS n FROM codes GROUP BY c) g;
RESET enable_sort;
SELECT c FROM codes ORDER BY c DESC LIMIT 3;

-- btree and hash indexes
CREATE INDEX codes_btree ON codes (c);
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET search_path = public, crm;
EXPLAIN (COSTS OFF) SELECT count(*) FROM codes WHERE c BETWEEN '511' AND '555';
SELECT count(*) FROM codes WHERE c BETWEEN '511' AND '555';
SELECT count(*) FROM codes WHERE c = '345';
DROP INDEX codes_btree;
CREATE INDEX codes_hash ON codes USING hash (c);
EXPLAIN (COSTS OFF) SELECT count(*) FROM codes WHERE c = '345';
SELECT count(*) FROM codes WHERE c = '345';
RESET enable_bitmapscan;
RESET enable_seqscan;

-- hash join
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM codes a JOIN codes b ON a.c = b.c;
SELECT count(*) FROM codes a JOIN codes b ON a.c = b.c;
RESET enable_mergejoin;
RESET enable_nestloop;
RESET search_path;

-- hashes agree with equality
SELECT count(DISTINCT crm.rfm_hash(c)) AS hashes, count(DISTINCT c) AS values,
	   crm.rfm_hash_extended('543', 0) = crm.rfm_hash_extended('5-4-3', 0) AS same,
	   crm.rfm_hash_extended('543', 0) <> crm.rfm_hash_extended('543', 1) AS seeded
  FROM codes;

-- text round trip for every value
SELECT count(*) AS round_trips
  FROM generate_series(1, 9) r, generate_series(1, 9) f, generate_series(1, 9) m
 WHERE crm.rfm(r, f, m)::text::crm.rfm OPERATOR(crm.=) crm.rfm(r, f, m)
   AND crm.rfm(r, f, m)::text = r::text || f || m;

-- the operator classes pass the access methods' own checks; the extended
-- hash with seed 0 agrees with the plain hash in its low 32 bits
SELECT opcname, amvalidate(oid) FROM pg_opclass WHERE opcintype = 'crm.rfm'::regtype ORDER BY 1;
SELECT bool_and((crm.rfm_hash_extended(c, 0) & 4294967295) = (crm.rfm_hash(c)::bigint & 4294967295))
	   AS low_bits_match
  FROM codes;
