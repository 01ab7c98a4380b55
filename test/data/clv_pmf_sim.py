#!/usr/bin/env python3
"""test/data/clv_pmf_sim.py: P(Y(t) = n | x, t_x, T) by simulation, for
sql/clv_probability.sql.

Independent of crm's formulas: the rates are drawn from the model's mixing
distributions, each draw weighted by the individual-level likelihood of the
client's summary (importance sampling of the posterior), the client alive
at T with the individual-level probability, and the next t time units
simulated from the model's story.  Prints, for n = 0..4, the estimate and
its Monte Carlo standard error.

Usage: clv_pmf_sim.py   (numpy; fixed seed)
"""
import numpy as np

rng = np.random.default_rng(20261207)
N = 4_000_000

# the CDNOW maximum-likelihood estimates (docs/clv.md), weeks
BG = dict(r=0.242593, alpha=4.413532, a=0.792886, b=2.425755)
PN = dict(r=0.553276, alpha=10.577612, s=0.606214, beta=11.667911)


def report(label, y, w):
    w = w / w.sum()
    for n in range(5):
        ind = (y == n).astype(float)
        est = np.sum(w * ind)
        se = np.sqrt(np.sum(w * w * (ind - est) ** 2))
        print("%s n=%d %.5f %.5f" % (label, n, est, se))


def bgnbd(x, tx, T, t):
    lam = rng.gamma(BG["r"], 1 / BG["alpha"], N)
    p = rng.beta(BG["a"], BG["b"], N)
    alive_l = (1 - p) ** x * np.exp(-lam * T)
    dead_l = (p * (1 - p) ** (x - 1) * np.exp(-lam * tx)) if x > 0 else 0 * lam
    w = lam ** x * (alive_l + dead_l)
    alive = rng.random(N) < alive_l / (alive_l + dead_l)
    k = rng.poisson(lam * t)
    g = rng.geometric(p)            # the purchase after which the client leaves
    y = np.where(alive, np.minimum(k, g), 0)
    report("bgnbd x=%g tx=%g T=%g t=%g" % (x, tx, T, t), y, w)


def pareto(x, tx, T, t):
    lam = rng.gamma(PN["r"], 1 / PN["alpha"], N)
    mu = rng.gamma(PN["s"], 1 / PN["beta"], N)
    lm = lam + mu
    alive_l = np.exp(-lm * T)
    dead_l = mu / lm * (np.exp(-lm * tx) - np.exp(-lm * T))
    w = lam ** x * (alive_l + dead_l)
    alive = rng.random(N) < alive_l / (alive_l + dead_l)
    tau = rng.exponential(1 / mu)
    y = np.where(alive, rng.poisson(lam * np.minimum(tau, t)), 0)
    report("pareto x=%g tx=%g T=%g t=%g" % (x, tx, T, t), y, w)


for fn in (bgnbd, pareto):
    fn(0, 0, 38.86, 39)
    fn(2, 30.43, 38.86, 39)
