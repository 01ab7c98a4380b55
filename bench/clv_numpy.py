#!/usr/bin/env python3
"""bench/clv_numpy.py: the CLV predictions of bench/clv_bench.sh in numpy.

Reads the client summaries (frequency, recency, t, monetary: COPY ... TO
STDOUT (FORMAT binary) on stdin) and computes, with the BG/NBD and
Gamma-Gamma parameters given on the command line, the same formulas as
crm, vectorised over all the clients in numpy as lifetimes computes them:

  P(alive)             logistic of the log-odds (lifetimes' form)
  E[Y(horizon)]        the Euler-transformed 2F1 series of crm (docs/clv.md),
                       summed for all clients at once until no client's
                       terms count any more
  CLV                  expected spend times the expectation at the end of
                       each period, differenced and discounted

With CLV_NUMPY_PLAIN=1 each series is summed for all the clients as long
as the longest one needs (no compaction).

Usage: ... | clv_numpy.py r alpha a b p q v horizon discount_rate period
Prints the CPU seconds (this process's) of reading and of each step, and the sums of the three
predictions (to check them against crm's).
"""
import os
import sys
import time

import numpy as np

PLAIN = os.environ.get("CLV_NUMPY_PLAIN") == "1"


def read_binary_copy(buf):
    # header: 11-byte signature, int32 flags, int32 extension length
    ext = int.from_bytes(buf[15:19], "big")
    body = buf[19 + ext:-2]  # without the trailer (int16 -1)
    dt = np.dtype([("nf", ">i2"),
                   ("l0", ">i4"), ("x", ">f8"),
                   ("l1", ">i4"), ("tx", ">f8"),
                   ("l2", ">i4"), ("T", ">f8"),
                   ("l3", ">i4"), ("m", ">f8")])
    rows = np.frombuffer(body, dtype=dt)
    return (rows["x"].astype(np.float64), rows["tx"].astype(np.float64),
            rows["T"].astype(np.float64), rows["m"].astype(np.float64))


def p_alive(r, alpha, a, b, x, tx, T):
    lo = np.log(a) - np.log(b + np.maximum(x, 1) - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
    return np.where(x > 0, 1 / (1 + np.exp(lo)), 1.0)


def expected_alive(r, alpha, a, b, t, x, T):
    """E[Y(t) | alive]: (a+b+x-1) [-expm1(eL)/e - e^(eL) sum_j c_j z^j], e = a-1.

    The series is summed for all the clients at once; every 8 terms the
    clients whose terms no longer count are dropped from the arrays (their
    series are done), so that the long series of a few clients do not cost
    the whole array's work.
    """
    e = a - 1
    z = t / (alpha + T + t)
    L = -np.log1p(t / (alpha + T))
    A = a + b - 1 - r
    C = a + b + x - 1
    term = A / C * z
    s = term.copy()
    if PLAIN:
        # the plain form: every client's series as long as the longest one
        j = 1
        while True:
            term = term * ((A + j) * (a + j - 1) / ((C + j) * (j + 1)) * z)
            s += term
            j += 1
            if not np.any(np.abs(term) > 1e-17 * np.abs(s)):
                break
        first = -L if e == 0 else -np.expm1(e * L) / e
        return (a + b + x - 1) * (first - np.exp(e * L) * s)
    idx = np.arange(len(x))          # the clients still summing
    zs, Cs, ts, ss = z, C, term, s.copy()
    j = 1
    while len(idx) > 0:
        ts = ts * ((A + j) * (a + j - 1) / ((Cs + j) * (j + 1)) * zs)
        ss += ts
        j += 1
        if j % 8 == 0:
            going = np.abs(ts) > 1e-17 * np.abs(ss)
            if not going.all():
                s[idx[~going]] = ss[~going]
                idx, zs, Cs, ts, ss = idx[going], zs[going], Cs[going], ts[going], ss[going]
    first = -L if e == 0 else -np.expm1(e * L) / e
    return (a + b + x - 1) * (first - np.exp(e * L) * s)


def main():
    r, alpha, a, b, p, q, v, horizon, rate, period = map(float, sys.argv[1:11])
    t0 = time.process_time()
    x, tx, T, m = read_binary_copy(sys.stdin.buffer.read())
    t1 = time.process_time()
    pa = p_alive(r, alpha, a, b, x, tx, T)
    t2 = time.process_time()
    ey = expected_alive(r, alpha, a, b, horizon, x, T) * pa
    t3 = time.process_time()
    spend = p * (v + x * np.where(x > 0, m, 0)) / (p * x + q - 1)
    n = int(np.ceil(horizon / period - 1e-9))
    total = np.zeros_like(x)
    prev = np.zeros_like(x)
    disc = 1.0
    for k in range(1, n + 1):
        tk = min(k * period, horizon)
        ek = expected_alive(r, alpha, a, b, tk, x, T) * pa
        disc /= 1 + rate
        total += (ek - prev) * disc
        prev = ek
    clv = spend * total
    t4 = time.process_time()
    print("numpy: %d clients; read %.3f s, p_alive %.3f s, expected %.3f s, clv %.3f s, "
          "compute %.3f s" % (len(x), t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t1))
    print("numpy sums: p_alive %.10g expected %.10g clv %.10g" % (pa.sum(), ey.sum(), clv.sum()))
    print("numpy_seconds %.4f %.4f" % (t4 - t1, t4 - t0))


if __name__ == "__main__":
    main()
