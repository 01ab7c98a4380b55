--
-- CLV predictions: published CDNOW predictions, values checked by hand in bc
-- (test/data/clv_handcheck.bc), numerically hard inputs, edge cases, errors.
--
CREATE TABLE clv_models AS
SELECT crm.bgnbd_fit(frequency, recency, t) AS bg,
	   crm.pareto_nbd_fit(frequency, recency, t) AS pn,
	   crm.gamma_gamma_fit(frequency, monetary) AS gg
  FROM clv_cdnow;

-- BG/NBD at the CDNOW fit, clients 1, 2, 3 and 6, 39 weeks ahead
-- (reference: E 1.2259108 0.203251 0.194781 3.337240; P(alive) 0.7266093 0.212228 1 0.641801)
SELECT c.id, round(crm.bgnbd_expected_purchases(m.bg, 39, c.frequency, c.recency, c.t)::numeric, 6) AS expected,
	   round(crm.bgnbd_p_alive(m.bg, c.frequency, c.recency, c.t)::numeric, 6) AS p_alive
  FROM clv_cdnow c, clv_models m WHERE c.id IN (1, 2, 3, 6) ORDER BY c.id;
-- new clients (Hardie's spreadsheet: 0.0078 0.0532 0.1506 1.0405 1.0437 1.8576)
SELECT t, round(crm.bgnbd_expected_purchases(m.bg, t)::numeric, 6) AS expected
  FROM clv_models m, unnest(ARRAY[0, 0.1429, 1, 3, 31.8571, 32, 78]::float8[]) t;
-- ranking customers one week ahead (lifetimes docs: 0.424877 0.474738 0.486526 0.662396 0.710623)
SELECT round(crm.bgnbd_expected_purchases(m.bg, 1, x, tx, tt)::numeric, 6) AS expected
  FROM clv_models m,
	   (VALUES (18, 35.14, 35.86), (19, 34.00, 34.14), (17, 28.43, 28.86),
			   (29, 37.71, 38.00), (26, 30.86, 31.00)) v(x, tx, tt);
-- the holdout: sum of E[Y(39)] over the 2,357 clients (reference 1,653.4; actual 1,882)
SELECT round(sum(crm.bgnbd_expected_purchases(m.bg, 39, c.frequency, c.recency, c.t))::numeric, 1) AS expected_holdout
  FROM clv_cdnow c, clv_models m;

-- hand-checked in bc at the paper's parameters (r 0.243, alpha 4.414, a 0.793, b 2.426):
--   ln L of client 1  -9.458606307066, P(alive) 0.726578570081,
--   E[Y(39)] 1.226028174767 (eq. 10 with the plain 2F1 series), E[X(39)] 1.196723193321
-- and at (0.25, 4, 0.8, 2.5), T = 40 (Fader-Hardie note 027): x = 200, t_x = 38: 100.795693092706
WITH p AS (SELECT ROW(0.243, 4.414, 0.793, 2.426, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model AS m,
				  ROW(0.25, 4, 0.8, 2.5, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model AS m027)
SELECT abs(crm.bgnbd_loglik(m, 2, 30.43, 38.86) - (-9.458606307066)) < 1e-10 AS loglik,
	   abs(crm.bgnbd_p_alive(m, 2, 30.43, 38.86) - 0.726578570081) < 1e-10 AS p_alive,
	   abs(crm.bgnbd_expected_purchases(m, 39, 2, 30.43, 38.86) - 1.226028174767) < 1e-10 AS expected,
	   abs(crm.bgnbd_expected_purchases(m, 39) - 1.196723193321) < 1e-10 AS expected_new,
	   abs(crm.bgnbd_loglik(m027, 200, 38, 40) - 100.795693092706) < 1e-9 AS loglik_x200,
	   round(crm.bgnbd_loglik(m027, 0, 0, 40)::numeric, 8) AS loglik_x0
  FROM p;
-- Pareto/NBD (0.553, 10.578, 0.606, 11.669), client 1: ln L -9.554283245150 (bc, A0 form)
-- Gamma-Gamma (6.25, 3.74, 15.44), x 2, m 22.35: ln L -3.551316759732 (bc)
SELECT abs(crm.pareto_nbd_loglik(ROW(0.553, 10.578, 0.606, 11.669, NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model,
								 2, 30.43, 38.86) - (-9.554283245150)) < 1e-10 AS pareto_loglik,
	   abs(crm.gamma_gamma_loglik(ROW(6.25, 3.74, 15.44, NULL, NULL, NULL, NULL, NULL, NULL)::crm.gamma_gamma_model,
								  2, 22.35) - (-3.551316759732)) < 1e-10 AS gamma_loglik;

-- numerically hard inputs
-- x = 1000: P(alive) is 8e-858, below the smallest double, without an error
SELECT crm.bgnbd_p_alive(m.bg, 1000, 10, 100) AS p_alive_x1000,
	   crm.bgnbd_expected_purchases(m.bg, 39, 1000, 10, 100) AS expected_x1000,
	   round(crm.bgnbd_expected_purchases(m.bg, 39, 1000, 99, 100)::numeric, 4) AS expected_x1000_recent
  FROM clv_models m;
-- a + b < 1 and x = 0: the 2F1 of eq. 10 is negative (-1.356926); E[Y(30)] = 0.5645886
SELECT round(crm.bgnbd_expected_purchases(ROW(0.11, 2.24, 0.31, 0.50, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model,
										  30, 0, 0, 1)::numeric, 7) AS expected;
-- a = 1 is a removable singularity of (a+b+x-1)/(a-1) [...]: continuous across it
SELECT round(crm.bgnbd_expected_purchases(ROW(0.25, 4, a, 2.5, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model,
										  39, 2, 30, 38)::numeric, 8) AS expected
  FROM unnest(ARRAY[1 - 1e-7, 1, 1 + 1e-7]::float8[]) a;
-- very long horizons: the 2F1 argument approaches 1, expectations keep growing slowly
SELECT round(crm.bgnbd_expected_purchases(m.bg, h, 2, 30.43, 38.86)::numeric, 4) AS expected
  FROM clv_models m, unnest(ARRAY[390, 3900, 39000]::float8[]) h;

-- Pareto/NBD (R BTYD walkthrough parameters) client 1516: P(alive) 0.9979, E[Y(52)] 25.46
SELECT round(crm.pareto_nbd_p_alive(m, 26, 30.86, 31)::numeric, 7) AS p_alive,
	   round(crm.pareto_nbd_expected_purchases(m, 52, 26, 30.86, 31)::numeric, 6) AS expected
  FROM (SELECT ROW(0.5534, 10.5802, 0.6061, 11.6562, NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model AS m) p;
-- new clients (R BTYD manual, t = 1..3: 0.05077821 0.09916088 0.14542507)
SELECT t, round(crm.pareto_nbd_expected_purchases(ROW(0.55, 10.56, 0.61, 11.64, NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model,
												  t)::numeric, 8) AS expected
  FROM generate_series(0, 3) t;
-- large x (lifetimes' underflow test: 6.2060517889632418, 6.2528722475748113)
SELECT round(crm.pareto_nbd_expected_purchases(m, 10, 132, 200, 200)::numeric, 8) AS x132,
	   round(crm.pareto_nbd_expected_purchases(m, 10, 133, 200, 200)::numeric, 8) AS x133
  FROM (SELECT ROW(0.55, 10.58, 0.61, 11.67, NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model AS m) p;
-- at the CDNOW fit, clients 1 and 3 (reference: E 1.455118 0.107061, P(alive) 0.869119 0.295098)
SELECT c.id, round(crm.pareto_nbd_expected_purchases(m.pn, 39, c.frequency, c.recency, c.t)::numeric, 6) AS expected,
	   round(crm.pareto_nbd_p_alive(m.pn, c.frequency, c.recency, c.t)::numeric, 6) AS p_alive
  FROM clv_cdnow c, clv_models m WHERE c.id IN (1, 3) ORDER BY c.id;
-- extreme parameters, 2F1 arguments near 1 (reference ln L -5.719022 116.301265 31.849828
-- 1323.188931 2594.404455; P(alive) 1.88513e-3 1.41714e-96 6.73297e-60 5.13746e-31 7.92e-800)
SELECT x, tx, tt, round(crm.pareto_nbd_loglik(m, x, tx, tt)::numeric, 6) AS loglik,
	   to_char(crm.pareto_nbd_p_alive(m, x, tx, tt), '9.99999EEEE') AS p_alive
  FROM (SELECT ROW(10.465, 0.00798565181, 3.0516, 2.820, NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model AS m) p,
	   (VALUES (40, 5, 6), (50, 1, 37), (50, 4, 37), (400, 5, 6), (500, 1, 37)) v(x, tx, tt);
-- s = 1 is a removable singularity: continuous across it
SELECT round(crm.pareto_nbd_expected_purchases(ROW(0.55, 10.56, s, 11.64, NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model,
											   39, 2, 30, 38)::numeric, 8) AS expected,
	   round(crm.pareto_nbd_expected_purchases(ROW(0.55, 10.56, s, 11.64, NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model,
											   39)::numeric, 8) AS expected_new
  FROM unnest(ARRAY[1 - 1e-9, 1, 1 + 1e-9]::float8[]) s;
-- alpha = beta: the 2F1 arguments are 0
SELECT round(crm.pareto_nbd_loglik(ROW(0.5, 10, 0.6, 10, NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model,
								   2, 30, 38)::numeric, 8) AS loglik_equal_rates;

-- Gamma-Gamma at the CDNOW fit, clients 1..10 (lifetimes docs: 24.658619 18.911489
-- 35.170981 x3 71.462843 18.911489 35.170981 27.282408 35.170981)
SELECT c.id, round(crm.gamma_gamma_expected_spend(m.gg, c.frequency, c.monetary)::numeric, 4) AS spend
  FROM clv_cdnow c, clv_models m WHERE c.id <= 10 ORDER BY c.id;
-- without repeat purchases: the population mean p v / (q - 1), whatever monetary says
SELECT abs(crm.gamma_gamma_expected_spend(m.gg, 0, 0) - (m.gg).p * (m.gg).v / ((m.gg).q - 1)) < 1e-12 AS population_mean,
	   crm.gamma_gamma_expected_spend(m.gg, 0, 0) = crm.gamma_gamma_expected_spend(m.gg, 0, 99) AS monetary_unused
  FROM clv_models m;

-- discounted CLV: lifetimes' docs example (12 steps of 30 weeks at 1 %: 140.096211
-- 18.943467 38.180574 ... 1003.868107) and the weekly-correct months (4.345 weeks:
-- 36.2785 4.6375 8.3441 ... 283.5236)
SELECT c.id, round(crm.clv(m.bg, m.gg, c.frequency, c.recency, c.t, c.monetary, 360, 0.01, 30)::numeric, 4) AS clv_30,
	   round(crm.clv(m.bg, m.gg, c.frequency, c.recency, c.t, c.monetary, 12 * 4.345, 0.01, 4.345)::numeric, 4) AS clv_month
  FROM clv_cdnow c, clv_models m WHERE c.id IN (1, 2, 3, 6) ORDER BY c.id;
-- without discount, CLV = spend x expected purchases; period 1 is the default
SELECT abs(crm.clv(m.bg, m.gg, 2, 30.43, 38.86, 22.35, 52, 0)
		   - crm.gamma_gamma_expected_spend(m.gg, 2, 22.35)
			 * crm.bgnbd_expected_purchases(m.bg, 52, 2, 30.43, 38.86)) < 1e-9 AS bgnbd_undiscounted,
	   abs(crm.clv(m.pn, m.gg, 2, 30.43, 38.86, 22.35, 52, 0)
		   - crm.gamma_gamma_expected_spend(m.gg, 2, 22.35)
			 * crm.pareto_nbd_expected_purchases(m.pn, 52, 2, 30.43, 38.86)) < 1e-9 AS pareto_undiscounted,
	   crm.clv(m.bg, m.gg, 2, 30.43, 38.86, 22.35, 52, 0.01) < crm.clv(m.bg, m.gg, 2, 30.43, 38.86, 22.35, 52, 0) AS discount_lowers,
	   crm.clv(m.bg, m.gg, 2, 30.43, 38.86, 22.35, 0, 0.01) AS zero_horizon,
	   round(crm.clv(m.bg, m.gg, 2, 30.43, 38.86, 22.35, 10.5, 0.01, 4)::numeric, 6)
		 = round((crm.gamma_gamma_expected_spend(m.gg, 2, 22.35) *
				 (crm.bgnbd_expected_purchases(m.bg, 4, 2, 30.43, 38.86) / 1.01
				  + (crm.bgnbd_expected_purchases(m.bg, 8, 2, 30.43, 38.86)
					 - crm.bgnbd_expected_purchases(m.bg, 4, 2, 30.43, 38.86)) / 1.01 ^ 2
				  + (crm.bgnbd_expected_purchases(m.bg, 10.5, 2, 30.43, 38.86)
					 - crm.bgnbd_expected_purchases(m.bg, 8, 2, 30.43, 38.86)) / 1.01 ^ 3))::numeric, 6)
		 AS partial_last_period
  FROM clv_models m;

-- properties: P(alive) in [0, 1], 1 without repeat purchases; expectations grow with the horizon
SELECT bool_and(p BETWEEN 0 AND 1) AS p_alive_range,
	   bool_and(p = 1) FILTER (WHERE frequency = 0) AS one_time_buyers_alive,
	   bool_and(e39 <= e78) AS monotone
  FROM (SELECT c.frequency, crm.bgnbd_p_alive(m.bg, c.frequency, c.recency, c.t) AS p,
			   crm.bgnbd_expected_purchases(m.bg, 39, c.frequency, c.recency, c.t) AS e39,
			   crm.bgnbd_expected_purchases(m.bg, 78, c.frequency, c.recency, c.t) AS e78
		  FROM clv_cdnow c, clv_models m) s;
-- a new client is a client with summary (0, 0, 0)
SELECT crm.bgnbd_expected_purchases(m.bg, 39) = crm.bgnbd_expected_purchases(m.bg, 39, 0, 0, 0) AS bgnbd_new,
	   abs(crm.pareto_nbd_expected_purchases(m.pn, 39) - crm.pareto_nbd_expected_purchases(m.pn, 39, 0, 0, 0)) < 1e-12 AS pareto_new
  FROM clv_models m;
-- strict: null in, null out
SELECT crm.bgnbd_p_alive(m.bg, NULL, 1, 2) IS NULL AS strict_p_alive,
	   crm.clv(m.bg, m.gg, 1, 1, 2, NULL, 10, 0) IS NULL AS strict_clv
  FROM clv_models m;

-- the series of E[Y(t) | alive] in double (four terms a step) and crm.clv's
-- horizons side by side, each stopping when its terms no longer count:
-- within 1e-12 of the values of the former evaluation (every series summed
-- in long double, every horizon as long as the longest), over models with
-- a below and near 1 and up to 19.5 and arguments z = t/(alpha+T+t) up to
-- 0.9986 (alpha 0.5, T 0.001, t 365) and 0.9999 (t 5000, the long double
-- series still); crm.clv in 12 periods of t/12
WITH ref(r, alpha, a, b, x, tx, tt, h, ey, clv) AS (
	VALUES
		(0.7, 0.5, 19.5, 40, 0, 0, 0.001, 365, 3.0906009507363055, 155.7112667249038),
		(0.7, 0.5, 19.5, 40, 0, 0, 0.001, 5000, 3.1506724801369788, 159.10909663277013),
		(0.7, 0.5, 19.5, 40, 0, 0, 10, 365, 2.596048973696398, 128.737932224458),
		(0.7, 0.5, 19.5, 40, 0, 0, 10, 5000, 3.0659551260575544, 154.32395698296506),
		(0.7, 0.5, 19.5, 40, 3, 0.0006, 0.001, 365, 2.2681417860808564, 114.53882612627463),
		(0.7, 0.5, 19.5, 40, 3, 0.0006, 0.001, 5000, 2.2681417930717473, 114.53885733034761),
		(0.7, 0.5, 19.5, 40, 3, 6.0, 10, 365, 0.8892289807046779, 44.83769453110864),
		(0.7, 0.5, 19.5, 40, 3, 6.0, 10, 5000, 0.8893730396761367, 44.912383274245215),
		(0.7, 0.5, 19.5, 40, 200, 0.0006, 0.001, 365, 12.751671805026104, 636.2821710197757),
		(0.7, 0.5, 19.5, 40, 200, 0.0006, 0.001, 5000, 12.751671805026104, 636.2821710197757),
		(0.7, 0.5, 19.5, 40, 200, 6.0, 10, 365, 2.7081359568663583e-40, 1.3513040896849642e-38),
		(0.7, 0.5, 19.5, 40, 200, 6.0, 10, 5000, 2.7081359568663583e-40, 1.3513040896900002e-38),
		(2, 1, 5, 10, 0, 0, 0.001, 365, 3.499352000281522, 176.74721203886895),
		(2, 1, 5, 10, 0, 0, 0.001, 5000, 3.499996368521422, 176.8288533567982),
		(2, 1, 5, 10, 0, 0, 10, 365, 3.4466780397827854, 172.78512666967939),
		(2, 1, 5, 10, 0, 0, 10, 5000, 3.499578719043779, 176.77429670259414),
		(2, 1, 5, 10, 3, 0.0006, 0.001, 365, 2.9982357539294067, 151.40709723815442),
		(2, 1, 5, 10, 3, 0.0006, 0.001, 5000, 2.9982359795282947, 151.40787228952578),
		(2, 1, 5, 10, 3, 6.0, 10, 365, 0.8509627130241952, 42.89391842975823),
		(2, 1, 5, 10, 3, 6.0, 10, 5000, 0.8512501472809391, 42.987159981806045),
		(2, 1, 5, 10, 200, 0.0006, 0.001, 365, 52.14755195892408, 2602.055449669869),
		(2, 1, 5, 10, 200, 0.0006, 0.001, 5000, 52.14755196260718, 2602.0554860140987),
		(2, 1, 5, 10, 200, 6.0, 10, 365, 4.9889752071205235e-37, 2.489227799528721e-35),
		(2, 1, 5, 10, 200, 6.0, 10, 5000, 4.9889797906326e-37, 2.489398191978869e-35),
		(0.3, 2, 0.5, 1, 0, 0, 0.001, 365, 8.447165043110774, 410.9210148809939),
		(0.3, 2, 0.5, 1, 0, 0, 0.001, 5000, 33.54047598551961, 1635.1138860104227),
		(0.3, 2, 0.5, 1, 0, 0, 10, 365, 3.0276521880270124, 146.7836392466487),
		(0.3, 2, 0.5, 1, 0, 0, 10, 5000, 13.182488070676037, 641.8834235289157),
		(0.3, 2, 0.5, 1, 3, 0.0006, 0.001, 365, 72.74095636728366, 3538.6437200717637),
		(0.3, 2, 0.5, 1, 3, 0.0006, 0.001, 5000, 284.64201446650975, 13872.747499604486),
		(0.3, 2, 0.5, 1, 3, 6.0, 10, 365, 18.993568400145026, 921.0208314175213),
		(0.3, 2, 0.5, 1, 3, 6.0, 10, 5000, 80.49213786770001, 3919.013896480833),
		(0.3, 2, 0.5, 1, 200, 0.0006, 0.001, 365, 5013.938201616264, 241028.52697558067),
		(0.3, 2, 0.5, 1, 200, 0.0006, 0.001, 5000, 19587.021323026478, 943281.4132441307),
		(0.3, 2, 0.5, 1, 200, 6.0, 10, 365, 3.9546177590949424e-30, 1.8950844817852037e-28),
		(0.3, 2, 0.5, 1, 200, 6.0, 10, 5000, 1.6692617981586964e-29, 8.031002115489941e-28),
		(0.24, 4.41, 0.79, 2.43, 0, 0, 0.001, 365, 4.2076674965504335, 205.1142465949107),
		(0.24, 4.41, 0.79, 2.43, 0, 0, 0.001, 5000, 11.99071399642426, 589.298357916773),
		(0.24, 4.41, 0.79, 2.43, 0, 0, 10, 365, 2.2782257260376033, 110.51932426050217),
		(0.24, 4.41, 0.79, 2.43, 0, 0, 10, 5000, 7.780111079292303, 381.1485154391473),
		(0.24, 4.41, 0.79, 2.43, 3, 0.0006, 0.001, 365, 26.87553338256768, 1317.2774899739768),
		(0.24, 4.41, 0.79, 2.43, 3, 0.0006, 0.001, 5000, 61.671158396635214, 3042.6990881545753),
		(0.24, 4.41, 0.79, 2.43, 3, 6.0, 10, 365, 13.010515901194609, 634.4863743766267),
		(0.24, 4.41, 0.79, 2.43, 3, 6.0, 10, 5000, 33.91742417685315, 1669.5260735605668),
		(0.24, 4.41, 0.79, 2.43, 200, 0.0006, 0.001, 365, 1466.4252701492348, 71141.23145820561),
		(0.24, 4.41, 0.79, 2.43, 200, 0.0006, 0.001, 5000, 3233.510316669874, 157754.8572251576),
		(0.24, 4.41, 0.79, 2.43, 200, 6.0, 10, 365, 1.2774020088193113e-23, 6.169215560095794e-22),
		(0.24, 4.41, 0.79, 2.43, 200, 6.0, 10, 5000, 3.131011969035285e-23, 1.5245297932856315e-21),
		(0.5, 21.5, 1.0192, 3.05, 0, 0, 0.001, 365, 3.0967012161598957, 150.46322864114586),
		(0.5, 21.5, 1.0192, 3.05, 0, 0, 0.001, 5000, 8.522484236102432, 419.81512735018055),
		(0.5, 21.5, 1.0192, 3.05, 0, 0, 10, 365, 2.5200250034400193, 122.18361416195566),
		(0.5, 21.5, 1.0192, 3.05, 0, 0, 10, 5000, 7.611524815971504, 374.2878297002785),
		(0.5, 21.5, 1.0192, 3.05, 3, 0.0006, 0.001, 365, 11.490226415634533, 561.72316600163),
		(0.5, 21.5, 1.0192, 3.05, 3, 0.0006, 0.001, 5000, 23.344630054479182, 1157.011691648844),
		(0.5, 21.5, 1.0192, 3.05, 3, 6.0, 10, 365, 8.95378451934261, 436.58810048270897),
		(0.5, 21.5, 1.0192, 3.05, 3, 6.0, 10, 5000, 19.597110797364767, 969.8458238510094),
		(0.5, 21.5, 1.0192, 3.05, 200, 0.0006, 0.001, 365, 565.5212327075355, 27417.613755777184),
		(0.5, 21.5, 1.0192, 3.05, 200, 0.0006, 0.001, 5000, 1043.8005810641441, 51219.432702310885),
		(0.5, 21.5, 1.0192, 3.05, 200, 6.0, 10, 365, 1.4821021887604615e-07, 7.1676137666845e-06),
		(0.5, 21.5, 1.0192, 3.05, 200, 6.0, 10, 5000, 2.9045115268568657e-07, 1.4234812737281807e-05)
), v AS (
	SELECT ref.*, ROW(r, alpha, a, b, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model AS bg,
		   ROW(7.488156736042621, 943.070107175854, 6419.72050779605, NULL, NULL, NULL, NULL, NULL, NULL)::crm.gamma_gamma_model AS gg
	  FROM ref)
SELECT count(*) AS points,
	   count(*) FILTER (WHERE (alpha + tt) / (alpha + tt + h) < 0.01) AS z_near_1,
	   max(abs(crm.bgnbd_expected_purchases(bg, h, x, tx, tt) / ey - 1)) < 1e-12 AS expected_same,
	   max(abs(crm.clv(bg, gg, x, tx, tt, 50, h, 0.01, h / 12.0) / clv - 1)) < 1e-12 AS clv_same
  FROM v;

-- errors
SELECT crm.bgnbd_p_alive(ROW(-0.2, 4, 0.8, 2.4, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, 1, 1, 2);
SELECT crm.bgnbd_p_alive(ROW(0.2, NULL, 0.8, 2.4, NULL, NULL, NULL, NULL, NULL, NULL)::crm.bgnbd_model, 1, 1, 2);
SELECT crm.pareto_nbd_p_alive(ROW(0.2, 4, 0.8, 'NaN', NULL, NULL, NULL, NULL, NULL, NULL)::crm.pareto_nbd_model, 1, 1, 2);
SELECT crm.gamma_gamma_expected_spend(ROW(6, 0, 15, NULL, NULL, NULL, NULL, NULL, NULL)::crm.gamma_gamma_model, 1, 10);
SELECT crm.bgnbd_p_alive(m.bg, 2, 3, 2) FROM clv_models m;
SELECT crm.pareto_nbd_expected_purchases(m.pn, 10, 0.5, 0, 2) FROM clv_models m;
SELECT crm.bgnbd_expected_purchases(m.bg, -1, 1, 1, 2) FROM clv_models m;
SELECT crm.bgnbd_expected_purchases(m.bg, 'Infinity') FROM clv_models m;
SELECT crm.pareto_nbd_expected_purchases(m.pn, 'NaN') FROM clv_models m;
SELECT crm.gamma_gamma_expected_spend(m.gg, 2, 0) FROM clv_models m;
SELECT crm.gamma_gamma_loglik(m.gg, 0, 10) FROM clv_models m;
SELECT crm.gamma_gamma_expected_spend(ROW(6, 0.5, 15, NULL, NULL, NULL, NULL, NULL, NULL)::crm.gamma_gamma_model, 0, 0);
SELECT crm.clv(m.bg, m.gg, 1, 1, 2, 10, 52, -0.01) FROM clv_models m;
SELECT crm.clv(m.bg, m.gg, 1, 1, 2, 10, 52, 0.01, 0) FROM clv_models m;
SELECT crm.clv(m.bg, m.gg, 1, 1, 2, 10, 1e9, 0.01, 1) FROM clv_models m;
SELECT crm.clv(m.pn, m.gg, 1, 1, 2, -10, 52, 0.01) FROM clv_models m;

DROP TABLE clv_models, clv_cdnow;
