--
-- ABC classes, product affinity and the category x segment revenue matrix.
--
SET TimeZone = 'UTC';
SET extra_float_digits = 0;
BEGIN;
INSERT INTO crm.clients (client_id, first_name) VALUES
	(801, 'a'), (802, 'b'), (803, 'c'), (804, 'd'), (805, 'e'), (806, 'f');
-- revenue 500, 200, 200, 50, 50, 0: total 1000
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount) VALUES
	(801, 1, '2024-03-01', 'web', 'paid', 300, 300),
	(801, 2, '2024-04-01', 'web', 'placed', 200, 200),
	(802, 3, '2024-03-01', 'web', 'paid', 200, 200),
	(803, 4, '2024-03-01', 'web', 'paid', 200, 200),
	(803, 5, '2024-03-02', 'web', 'cancelled', 900, 900),
	(804, 6, '2024-03-01', 'web', 'paid', 50, 50),
	(805, 7, '2024-03-01', 'web', 'paid', 50, 50),
	(806, 8, '2024-03-01', 'web', 'paid', 0, 0),
	(806, 9, '2025-03-01', 'web', 'paid', 70, 70);		-- after as_of

-- defaults 80 / 95: a client is A while the clients above it hold less than
-- 80 %, so the client crossing 80 % is A; ties share the class of the first
SELECT client_id, revenue, revenue_share, share_before, cumulative_share, abc
  FROM crm.abc_analysis('2025-01-01') ORDER BY revenue DESC, client_id;
SELECT client_id, abc FROM crm.abc_analysis('2025-01-01', 0.5, 0.9) ORDER BY revenue DESC, client_id;
SELECT crm.abc_class(0.79) AS a, crm.abc_class(0.8) AS b, crm.abc_class(0.95) AS c,
	   crm.abc_class(0, 0.1, 0.2) AS first;
-- no revenue at all: everyone is C
DELETE FROM crm.orders WHERE net_amount > 0;
SELECT client_id, revenue, share_before, abc FROM crm.abc_analysis('2025-01-01');
ROLLBACK;
SELECT * FROM crm.abc_analysis('2025-01-01', 0.9, 0.8);
SELECT crm.abc_class(0.5, 0, 0.5);
SELECT crm.abc_class(0.5, 0.5, 1.5);
SELECT crm.abc_class('NaN', 0.5, 0.9);

-- product affinity: 5 baskets (a cancelled order is not a basket)
BEGIN;
INSERT INTO crm.categories (category_id, name) VALUES (801, 'Food'), (802, 'Tools');
INSERT INTO crm.products (product_id, sku, name, category_id) VALUES
	(801, 'P1', 'bread', 801), (802, 'P2', 'butter', 801),
	(803, 'P3', 'knife', 802), (804, 'P4', 'board', 802);
INSERT INTO crm.clients (client_id, first_name) VALUES (801, 'a'), (802, 'b'), (803, 'c'), (804, 'd');
INSERT INTO crm.orders (client_id, order_id, ordered_at, channel, status, gross_amount, net_amount) VALUES
	(801, 1, '2024-12-20', 'web', 'paid', 30, 30),			-- {bread, butter}
	(801, 2, '2024-12-30', 'web', 'paid', 60, 60),			-- {bread, butter, knife}
	(802, 3, '2024-11-20', 'web', 'paid', 40, 40),			-- {bread, knife}
	(802, 4, '2024-12-01', 'web', 'paid', 20, 20),			-- {butter}
	(803, 5, '2024-06-01', 'web', 'paid', 40, 40),			-- {bread, bread, butter}
	(804, 6, '2024-12-01', 'web', 'cancelled', 50, 50);		-- {bread, board}
INSERT INTO crm.order_lines (client_id, order_id, line_no, product_id, quantity, unit_price,
							 gross_amount, net_amount) VALUES
	(801, 1, 1, 801, 1, 10, 10, 10), (801, 1, 2, 802, 1, 20, 20, 20),
	(801, 2, 1, 801, 1, 10, 10, 10), (801, 2, 2, 802, 1, 20, 20, 20), (801, 2, 3, 803, 1, 30, 30, 30),
	(802, 3, 1, 801, 1, 10, 10, 10), (802, 3, 2, 803, 1, 30, 30, 30),
	(802, 4, 1, 802, 1, 20, 20, 20),
	(803, 5, 1, 801, 1, 10, 10, 10), (803, 5, 2, 801, 1, 10, 10, 10), (803, 5, 3, 802, 1, 20, 20, 20),
	(804, 6, 1, 801, 1, 10, 10, 10), (804, 6, 2, 804, 1, 40, 40, 40);
-- n(bread) = 4, n(butter) = 4, n(knife) = 2, n(bread, butter) = 3, n(bread, knife) = 2,
-- n(butter, knife) = 1 (below 30 % support): bread -> butter confidence 3/4,
-- lift 5 * 3 / (4 * 4); knife -> bread confidence 1, lift 5 * 2 / (2 * 4)
SELECT * FROM crm.product_affinity('2025-01-01', 0.3);
SELECT count(*) AS rules FROM crm.product_affinity('2025-01-01', 0.2);
SELECT count(*) AS rules FROM crm.product_affinity('2025-01-01', 0.7);
SELECT count(*) AS rules FROM crm.product_affinity('2025-01-01', 0.3, '2024-12-15');
-- by category: Food in 5 baskets, Tools in 2, both in 2
SELECT * FROM crm.product_affinity('2025-01-01', 0.3, level => 'category');

-- category x segment: 801 scores 424 (Potential loyalist), 802 222 (Need
-- attention), 803 111 (Lost); Food holds 130 of 190
SELECT client_id, rfm, segment FROM crm.rfm_scores('2025-01-01') ORDER BY client_id;
SELECT segment, category, revenue, buyers, round(segment_share::numeric, 4) AS segment_share,
	   round(overall_share::numeric, 4) AS overall_share, round(index::numeric, 4) AS index
  FROM crm.segment_category_revenue('2025-01-01');
ROLLBACK;
SELECT * FROM crm.product_affinity('2025-01-01', 0);
SELECT * FROM crm.product_affinity('2025-01-01', 1.5);
SELECT * FROM crm.product_affinity('2025-01-01', level => 'sku');
