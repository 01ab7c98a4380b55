-- bench/churn_classes.sql: the behavioural classes of crm.churn_signals
-- against the truth of the demo data (crm.demo_clients.archetype), in a
-- database filled by crm.generate_demo_data (clean or noisy mode).
-- psql -X -f bench/churn_classes.sql [-v as_of="'2025-01-01'"]
\if :{?as_of}
\else
\set as_of '''2025-01-01'''
\endif
CREATE TEMP TABLE cc AS
SELECT d.archetype AS truth, s.behaviour_class AS predicted
  FROM crm.churn_signals(:as_of) s JOIN crm.demo_clients d USING (client_id);

SELECT truth AS "true \ predicted",
       count(*) FILTER (WHERE predicted = 'loyal') AS loyal,
       count(*) FILTER (WHERE predicted = 'promising') AS promising,
       count(*) FILTER (WHERE predicted = 'at_risk') AS at_risk,
       count(*) FILTER (WHERE predicted = 'drifting') AS drifting,
       count(*) FILTER (WHERE predicted = 'about_to_lose') AS about_to_lose,
       count(*) FILTER (WHERE predicted = 'seasonal_sleeper') AS seasonal,
       count(*) FILTER (WHERE predicted = 'promo_dependent') AS promo_dep,
       count(*) FILTER (WHERE predicted = 'lost') AS lost,
       count(*) FILTER (WHERE predicted = 'unclassified') AS unclassified,
       count(*) AS clients,
       round(avg((truth = predicted or (truth = 'regular' and predicted = 'unclassified'))::int), 3) AS recall
  FROM cc
 GROUP BY truth
 ORDER BY array_position(ARRAY['loyal','promising','at_risk','drifting','about_to_lose',
                               'seasonal_sleeper','promo_dependent','lost','regular'], truth);

SELECT round(avg((truth = predicted)::int) FILTER (WHERE truth <> 'regular'), 4) AS accuracy_without_regular,
       round(avg((truth = predicted OR (truth = 'regular' AND predicted = 'unclassified'))::int), 4)
           AS accuracy_regular_as_unclassified,
       count(*) FILTER (WHERE truth <> 'regular') AS clients_without_regular,
       count(*) AS clients
  FROM cc;
DROP TABLE cc;
