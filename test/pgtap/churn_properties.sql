-- churn signals, classes, refresh, curves and contact policy on generated demo data
BEGIN;
-- the demo data come from the extension crm_demo
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS crm_demo;
RESET client_min_messages;
SELECT plan(15);
SET LOCAL client_min_messages = warning;
SELECT lives_ok($$SELECT crm.generate_demo_data(2000, 7, '2025-01-01')$$, 'demo data generated');
CREATE TEMP TABLE s AS SELECT * FROM crm.churn_signals('2025-01-01');

SELECT is((SELECT count(*) FROM s), (SELECT count(*) FROM crm.client_profiles('2025-01-01')),
		  'one row of signals per client with a purchase');
SELECT is((SELECT count(*) FROM s WHERE p_gap NOT BETWEEN 0 AND 1
			  OR abs(overdue_ratio - silence_days / expected_gap_days) > 1e-9
			  OR status NOT IN ('new', 'active', 'slipping', 'lapsed', 'lost')),
		  0::bigint, 'p_gap is a probability, overdue = silence / expected gap, statuses in the ladder');
SELECT is((SELECT count(*) FROM s a JOIN s b ON a.client_id <> b.client_id
			WHERE a.overdue_ratio > b.overdue_ratio AND a.gap_cv = b.gap_cv AND a.p_gap > b.p_gap + 1e-12
			  AND a.client_id < 200 AND b.client_id < 200),
		  0::bigint, 'at equal spread, a larger overdue ratio never has a larger tail probability');
SELECT is((SELECT count(*) FROM s WHERE behaviour_class NOT IN (SELECT class FROM crm.behaviour_classes)),
		  0::bigint, 'every class is one of crm.behaviour_classes');
SELECT cmp_ok((SELECT avg((s.behaviour_class = d.archetype)::int)::float8
				 FROM s JOIN crm.demo_clients d USING (client_id) WHERE d.archetype <> 'regular'),
			  '>=', 0.85::float8, 'at least 85 % of the non-regular demo clients in their true class');
SELECT cmp_ok((SELECT avg((s.status IN ('lapsed', 'lost'))::int)::float8
				 FROM s JOIN crm.demo_clients d USING (client_id) WHERE d.archetype = 'lost'),
			  '=', 1::float8, 'every lost demo client is lapsed or lost');

SELECT is((SELECT transitions FROM crm.refresh_segments('2025-01-01')),
		  3 * (SELECT count(*) FROM s), 'the first refresh assigns three labels per client');
SELECT is((SELECT transitions FROM crm.refresh_segments('2025-01-01')), 0::bigint,
		  'a second refresh for the same as_of changes nothing');

SELECT is((SELECT clients FROM crm.repeat_curve('2025-01-01') WHERE order_number = 1),
		  (SELECT count(*) FROM s), 'the repeat curve starts with every client');
SELECT is((SELECT count(*) FROM crm.cohort_retention('2025-01-01', 'week')
			WHERE period_number = 0 AND retention <> 1), 0::bigint,
		  'every cohort is fully active in its first period');
SELECT is((SELECT count(*) FROM crm.interactions i
			WHERE i.direction = 'outbound' AND i.campaign IS NOT NULL AND i.kind IN ('email', 'sms', 'push')
			  AND NOT crm.can_contact(i.client_id, i.channel, i.occurred_at)), 0::bigint,
		  'the demo campaigns respect consent and the default cap');
SELECT is((SELECT count(*) FROM s WHERE NOT class_confidence BETWEEN 0 AND 1
			  OR runner_up_class = behaviour_class
			  OR runner_up_class NOT IN (SELECT class FROM crm.behaviour_classes)
			  OR purchases_after_offer NOT BETWEEN 0 AND LEAST(purchases, 16)),
		  0::bigint, 'confidence in [0, 1], a runner-up other than the class, purchases after an offer within the window');

-- the noisy mode: archetypes widened as real clients are; the classes hold
TRUNCATE crm.clients CASCADE;
SELECT lives_ok($$SELECT crm.generate_demo_data(2000, 8, '2025-01-01', noisy => true)$$,
				'noisy demo data generated');
SELECT cmp_ok((SELECT avg((c.behaviour_class = d.archetype)::int)::float8
				 FROM crm.churn_signals('2025-01-01') c JOIN crm.demo_clients d USING (client_id)
				WHERE d.archetype <> 'regular'),
			  '>=', 0.92::float8, 'at least 92 % of the non-regular noisy demo clients in their true class');
SELECT * FROM finish();
ROLLBACK;
