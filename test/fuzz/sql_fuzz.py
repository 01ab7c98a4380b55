#!/usr/bin/env python3
"""test/fuzz/sql_fuzz.py: random and mutated jsonb documents for crm's SQL
functions that read jsonb in C (crm.price_cart's cart, crm.churn_options,
crm.churn_signal and crm.churn_signals' options, crm.loyalty_entry_valid's
request), for crm.record_priced_cart's quote (built by crm.price_cart, then
damaged), and random text for the types' input functions as the server
itself reads them.

Writes one SQL statement per line to standard output; test/fuzz/sql-fuzz
runs them against a throwaway cluster (test/fuzz/sql_fuzz_setup.sql) and
fails on an internal error (SQLSTATE XX000) or a server crash.  The
documents are built from a grammar of the valid shapes with random damage:
wrong types, missing, repeated and unknown keys, numbers at and beyond every
limit, numbers written as strings, deep nesting, empty and huge arrays.

usage: sql_fuzz.py STATEMENTS SEED          (the statements, to stdout)
       sql_fuzz.py report SQL OUT OFFSET   (per target: statements,
           errors by SQLSTATE from psql's OUT; exit 1 on SQLSTATE XX000)
"""
import json
import random
import re
import sys


class Raw(str):
    """JSON text written as is (numbers json.dumps cannot write)."""


class Obj(list):
    """A JSON object as (key, value) pairs: keys may repeat."""


def enc(v):
    if isinstance(v, Raw):
        return str(v)
    if v is None:
        return 'null'
    if v is True:
        return 'true'
    if v is False:
        return 'false'
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=R.random() < 0.5)
    if isinstance(v, Obj):
        return '{' + ', '.join(enc(k) + ': ' + enc(x) for k, x in v) + '}'
    if isinstance(v, list):
        return '[' + ', '.join(enc(x) for x in v) + ']'
    raise TypeError(v)


R = random.Random()

# how much damage the current statement's document takes: 0 for half of
# them (valid documents reach the evaluation), otherwise a rate
D = 0.0

EDGE_NUMBERS = [
    '0', '-0', '0.0', '1', '-1', '2', '3', '0.001', '0.0005', '1.0000', '1.2345',
    '2147483647', '2147483648', '-2147483648', '9223372036854775807',
    '9223372036854775808', '-9223372036854775808', '18446744073709551616',
    '999999999999', '999999999999.999', '1000000000000', '99999999999999',
    '1e3', '1E3', '1.5e2', '1e-3', '1e400', '1e-400', '-1e400', '1e308', '1e309',
    '0.1', '12.5', '100', '365', '3650', '36500', '1000', '100000', '0.05', '0.2',
    '123456789012345678901234567890', '0.00000000000000000000001',
]
EDGE_STRINGS = [
    '', ' ', '1', ' 1', '1 ', '+1', '-1', '01', '1.5', '1e3', 'abc', 'NaN',
    'Infinity', '-Infinity', '0x10', '１２', '9223372036854775808', '1.0001',
    '12.', '.5', '-', '+', '.', '1..2', 'Champions', 'gold', 'silver', 'club',
    'é', '\u2028', 'x' * 3000,
]
# the churn settings and the ranges src/churn.c accepts
CHURN_RANGES = {
    'window_days': (1, 3650), 'prior_gaps': (0, 1000), 'population_cv': (0.05, 10),
    'min_gap_days': (0, 365), 'new_days': (0, 3650), 'slipping_p': (0, 1),
    'lapsed_p': (0, 0.2), 'lost_days': (1, 36500), 'lost_overdue': (1, 1000),
    'lost_offers': (0, 1000), 'promo_share': (0, 1), 'season_share': (0, 1),
    'seasonal_gap_days': (0, 3650), 'frequent_purchases': (1, 100000),
    'loyal_gap_days': (0, 3650), 'promising_days': (0, 3650),
    'promising_purchases': (2, 100000), 'promising_gap_days': (0, 3650),
    'at_risk_rate_ratio': (0, 1), 'drifting_cv': (0, 100), 'drifting_days': (1, 36500),
    'about_to_lose_overdue': (1, 1000), 'about_to_lose_days': (0, 36500),
    'population_gap_days': (0, 1000), 'population_offer_share': (0, 1),
    'population_season_share': (0, 1),
}
CHURN_KEYS = sorted(CHURN_RANGES) + ['season_months']
TIMES = ["'2025-01-01'", "'2025-01-01'", "'2025-01-01'", "'2024-06-30 12:00'",
         "'2031-01-01'", "'infinity'", "'-infinity'", "'4713-01-01 BC'",
         "'294276-12-31'", "'2000-01-01'", 'NULL']


def rnum():
    r = R.random()
    if r < 0.5:
        return Raw(R.choice(EDGE_NUMBERS))
    if r < 0.8:
        return R.randint(-5, 400)
    # a random decimal, sometimes long
    digits = ''.join(R.choice('0123456789') for _ in range(R.randint(1, 25)))
    frac = ''.join(R.choice('0123456789') for _ in range(R.randint(0, 12)))
    sign = R.choice(['', '', '-'])
    return Raw(sign + str(int(digits)) + ('.' + frac if frac else ''))


def rstr():
    if R.random() < 0.7:
        return R.choice(EDGE_STRINGS)
    n = enc(rnum())
    return n if R.random() < 0.8 else n + R.choice(['x', ' ', '.', 'e'])


def rvalue(depth=0):
    r = R.random()
    if r < 0.35:
        return rnum()
    if r < 0.6:
        return rstr()
    if r < 0.7:
        return R.choice([None, True, False])
    if depth > 3:
        return None
    if r < 0.85:
        return [rvalue(depth + 1) for _ in range(R.randint(0, 4))]
    return Obj((R.choice(['a', 'lines', 'quantity', 'x']), rvalue(depth + 1))
               for _ in range(R.randint(0, 3)))


def deep(n):
    v = 1
    for _ in range(n):
        v = [v] if R.random() < 0.5 else Obj([('a', v)])
    return v


def maybe(valid):
    """valid(), or with the damage rate a random value"""
    return valid() if R.random() >= D else rvalue()


def line():
    pairs = []
    fields = [
        ('product_id', lambda: maybe(lambda: R.choice([R.randint(1, 315), str(R.randint(1, 315))]))),
        ('quantity', lambda: maybe(lambda: R.choice([R.randint(1, 5), Raw('0.5'), Raw('2.125'), '3', Raw('1.0000')]))),
        ('price_list_id', lambda: maybe(lambda: R.choice([1, 2, 3, '1']))),
    ]
    for k, gen in fields:
        if R.random() >= D / 3:
            pairs.append((k, gen()))
    if R.random() < D / 5:
        pairs.append((R.choice(['product_id', 'quantity', 'price_list_id']), rvalue()))
    if R.random() < D / 5:
        pairs.append((R.choice(['discount', 'Quantity', '', 'price']), rvalue()))
    R.shuffle(pairs)
    return Obj(pairs)


def lines():
    r = R.random()
    if r < 0.02:
        n = 0
    elif r < 0.85:
        n = R.randint(1, 6)
    elif r < 0.97:
        n = R.randint(7, 60)
    else:
        n = R.randint(200, 600)
    return [line() if R.random() >= D / 5 else rvalue() for _ in range(n)]


def cart():
    r = R.random()
    if r < 0.2:
        return lines()
    if r < D / 5:
        return rvalue()
    if r < D / 2:
        return deep(R.randint(10, 3000))
    pairs = []
    if R.random() >= D / 3:
        pairs.append(('lines', maybe(lines)))
    for k, gen in [('segment', lambda: R.choice(['Champions', 'At risk', 'Lost'])),
                   ('tier', lambda: R.choice(['gold', 'silver', 'platinum'])),
                   ('program', lambda: R.choice(['club', 'none'])),
                   ('points_paid', lambda: R.choice([0, 10, 500, 100000]))]:
        if R.random() < 0.3:
            pairs.append((k, maybe(gen)))
    if R.random() < D / 5:
        pairs.append((R.choice(['Lines', 'extra', 'points']), rvalue()))
    R.shuffle(pairs)
    return Obj(pairs)


def churn_value(key):
    if key == 'season_months':
        return maybe(lambda: [R.randint(1, 12) if R.random() >= D else
                              R.choice([R.randint(-2, 14), Raw('6.5'), 'x', None, Raw('1e400')])
                              for _ in range(R.randint(0, 14))])
    lo, hi = CHURN_RANGES[key]
    r = R.random()
    if r >= D:
        return R.choice([R.uniform(lo, hi), lo, hi, R.uniform(lo, lo + (hi - lo) / 100)])
    if r < D * 0.7:
        return Raw(R.choice(EDGE_NUMBERS))
    return rvalue()


def churn_options():
    if R.random() < D / 5:
        return rvalue()
    pairs = [(k, churn_value(k)) for k in R.sample(CHURN_KEYS, R.randint(0, 4))]
    if R.random() < D / 3:
        pairs.append((R.choice(['unknown', 'Window_days', '']), rvalue()))
    return Obj(pairs)


def text_input():
    """random text for the types' input functions"""
    t = R.random()
    if t < 0.3:
        typ = 'crm.rfm'
        s = R.choice(['543', '5-4-3', ' 111 ', '999', '105', '5-4-', '1234', '５４３'])
    elif t < 0.65:
        typ = 'crm.quantile_state'
        parts = [str(R.choice([2, 5, 100, 1, 101, 0, -1])), R.choice(['higher', 'lower', 'up'])]
        for _ in range(R.randint(0, 8)):
            parts.append(enc(rnum()) + ':' + enc(R.choice([1, 2, 9223372036854775807, 0, -1, rnum()])))
        s = ' '.join(parts)
    else:
        typ = 'crm.clv_fit_state'
        kind = R.choice(['bgnbd', 'pareto_nbd', 'gamma_gamma', 'other'])
        rows = [kind, enc(R.choice([0, 0.5, rnum()]))]
        for _ in range(R.randint(0, 6)):
            n = 2 if kind == 'gamma_gamma' else 3
            rows.append(','.join(enc(R.choice([R.randint(0, 9), rnum()])) for _ in range(n + 1)))
        s = ';'.join(rows)
    # damage: cut, duplicate or flip a character
    if s and R.random() < 0.5:
        i = R.randrange(len(s))
        op = R.random()
        if op < 0.3:
            s = s[:i]
        elif op < 0.6:
            s = s[:i] + s[i] + s[i:]
        else:
            s = s[:i] + R.choice(' :;,.-+e0x\t') + s[i + 1:]
    return typ, s


def dollar(s, tag='j'):
    """s as a dollar-quoted literal whose tag does not occur in it"""
    while '$' + tag + '$' in s:
        tag += 'j'
    return '$' + tag + '$' + s + '$' + tag + '$'


def statement():
    global D
    D = 0.0 if R.random() < 0.5 else R.choice([0.02, 0.1, 0.3])
    r = R.random()
    if r < 0.45:
        client = R.choice([R.randint(1, 200)] * 20 + [0, -1, 9999, 9223372036854775807])
        at = R.choice(["'2025-01-01'"] * 10 + TIMES[:-1])
        return 'SELECT length(crm.price_cart(%d, %s, %s)::text);' % (
            client, dollar(enc(cart())), at)
    if r < 0.65:
        return 'SELECT crm.churn_options(%s);' % dollar(enc(churn_options()))
    if r < 0.78:
        opts = ', '.join('(%s::jsonb)' % dollar(enc(churn_options())) for _ in range(R.randint(1, 2)))
        return ('SELECT count(crm.churn_signal(f.profile, %s, %s, %s, %s, %s, %s, o.opt)) '
                'FROM fuzz_profiles f, (VALUES %s) o(opt);') % (
            R.choice(["'2025-01-01'"] * 10 + TIMES[:-1]),
            R.choice(['20'] * 8 + ['0.5', '0', '-1', "'NaN'", "'Infinity'", '1e-300', '1e300']),
            R.choice(['0'] * 8 + ['1', '-1', 'NULL', '9000000000000000000']),
            R.choice(['0', '2', 'NULL']), R.choice(['NULL'] * 8 + TIMES),
            R.choice(['0'] * 8 + ['3', 'NULL', '-5']), opts)
    if r < 0.80:
        return 'SELECT count(*) FROM crm.churn_signals(%s, %s);' % (
            R.choice(TIMES[:-1]), dollar(enc(churn_options())))
    if r < 0.85:
        # a real quote, damaged, recorded as an order
        c = R.randint(1, 200)
        quote = 'crm.price_cart(%d, %s, %s)' % (
            c, dollar(enc(Obj([('lines', [line() for _ in range(R.randint(1, 3))])]))),
            "'2025-01-01'")
        path = R.choice(['{client_id}', '{totals,net}', '{totals,points_paid}', '{lines,0,net}',
                         '{lines,0,quantity}', '{cart}', '{at}', '{rules}', '{lines}',
                         '{cart,0,quantity}', '{currency}', '{turnover_before}'])
        how = R.random()
        if how < 0.6:
            quote = 'jsonb_set(%s, %s, %s::jsonb)' % (quote, dollar(path, 'p'), dollar(enc(rvalue())))
        elif how < 0.8:
            quote = '(%s #- %s)' % (quote, dollar(path, 'p'))
        return 'SELECT crm.record_priced_cart(%s, %s);' % (
            quote, R.choice(["'web'", "'store'", "'x'"]))
    if r < 0.88:
        return ("SELECT crm.loyalty_entry_valid('earn', 5, 5, 1, 1, NULL, NULL, 0, NULL, NULL, "
                "'key', %s);") % dollar(enc(rvalue()))
    typ, s = text_input()
    return 'SELECT %s::%s;' % (dollar(s, 't'), typ)


def target(stmt):
    """the function or type a statement fuzzes"""
    for name in ('record_priced_cart', 'price_cart', 'churn_options', 'churn_signals',
                 'churn_signal', 'loyalty_entry_valid'):
        if 'crm.' + name + '(' in stmt:
            return name
    return stmt[stmt.rindex('::') + 2:].rstrip(';')


def report(sql_file, out_file, offset):
    """per target: statements, errors by SQLSTATE; true if an XX000 was seen"""
    stmts = open(sql_file, encoding='utf-8').read().split('\n')
    totals = {}
    errors = {}
    for st in stmts:
        if st:
            t = target(st)
            totals[t] = totals.get(t, 0) + 1
    for ln in open(out_file, encoding='utf-8', errors='replace'):
        m = re.match(r'psql:[^:]*:(\d+): ERROR:  ([0-9A-Z]{5}):', ln)
        if m:
            t = target(stmts[int(m.group(1)) - 1 - offset])
            errors.setdefault(t, {})
            errors[t][m.group(2)] = errors[t].get(m.group(2), 0) + 1
    internal = False
    print('%-22s %10s %10s  %s' % ('target', 'statements', 'succeeded', 'errors by SQLSTATE'))
    for t in sorted(totals):
        e = errors.get(t, {})
        internal |= 'XX000' in e
        print('%-22s %10d %10d  %s' % (t, totals[t], totals[t] - sum(e.values()),
                                        ' '.join('%s:%d' % kv for kv in sorted(e.items(), key=lambda kv: -kv[1]))))
    return internal


def main():
    sys.setrecursionlimit(50000)
    if sys.argv[1] == 'report':
        sys.exit(1 if report(sys.argv[2], sys.argv[3], int(sys.argv[4])) else 0)
    n = int(sys.argv[1])
    R.seed(int(sys.argv[2]))
    out = sys.stdout
    for _ in range(n):
        out.write(statement().replace('\n', ' ') + '\n')


if __name__ == '__main__':
    main()
