#!/usr/bin/env python3
"""Run the psql examples of a Markdown page and compare their output with the page.

    doc_examples.py FILE [--section HEADING] [--footer] [--only WORD]

An example is a line starting with the prompt "=> " (or "=# ") inside a
fenced code block: the statement runs from the prompt to the first line ending in ";",
and its output is every following line up to the next prompt or the end of
the block (after a COPY ... FROM stdin, its data up to the line "\." come
first, and are part of the statement).  The statements of the page (of the section HEADING only, when
given: from that heading to the next heading of the same level) run in order
in one psql session, with the connection of the environment (PGHOST, PGPORT,
PGDATABASE, PGOPTIONS), and each output is compared with the page's, line by
line, ignoring blank lines and trailing blanks.  Errors (psql's standard
error) count as output; psql runs with SHOW_CONTEXT=never, as the pages say.  --footer keeps psql's "(N rows)" footers, which the
page then shows; --only WORD runs only the blocks that contain WORD.

Exit status 0 when every output matches; otherwise 1, with each difference.
"""
import argparse
import difflib
import re
import subprocess
import sys

PROMPTS = ('=> ', '=# ')


def blocks(lines):
    """the fenced code blocks of lines, each a list of lines"""
    block = None
    for line in lines:
        if line.startswith('```'):
            if block is None:
                block = []
            else:
                yield block
                block = None
        elif block is not None:
            block.append(line)


def examples(text, section=None, only=None):
    lines = text.split('\n')
    if section is not None:
        level = section.split(' ')[0]
        try:
            start = lines.index(section)
        except ValueError:
            sys.exit('no section %r' % section)
        end = len(lines)
        for i in range(start + 1, len(lines)):
            if lines[i].startswith(level + ' '):
                end = i
                break
        lines = lines[start + 1:end]
    found = []
    for block in blocks(lines):
        if only is not None and not any(only in line for line in block):
            continue
        i = 0
        while i < len(block):
            if not block[i].startswith(PROMPTS):
                i += 1
                continue
            stmt = [block[i][3:]]
            while not stmt[-1].rstrip().endswith(';'):
                i += 1
                if i >= len(block):
                    sys.exit('statement without its ";": %s' % '\n'.join(stmt))
                stmt.append(block[i])
            i += 1
            if re.match(r'\s*copy\b', stmt[0], re.I) and \
                    re.search(r'\bfrom\s+stdin\b', '\n'.join(stmt), re.I):
                # COPY ... FROM stdin: its data follow, up to a line "\."
                while i < len(block) and block[i] != '\\.':
                    stmt.append(block[i])
                    i += 1
                if i >= len(block):
                    sys.exit('COPY without its closing "\\.": %s' % stmt[0])
                stmt.append(block[i])
                i += 1
            out = []
            while i < len(block) and not block[i].startswith(PROMPTS):
                out.append(block[i])
                i += 1
            found.append(('\n'.join(stmt), out))
    return found


def normal(lines):
    return [line.rstrip() for line in lines if line.strip() != '']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('file')
    ap.add_argument('--section')
    ap.add_argument('--footer', action='store_true')
    ap.add_argument('--only')
    args = ap.parse_args()
    with open(args.file) as f:
        found = examples(f.read(), args.section, args.only)
    sys.stdout.flush()
    if not found:
        sys.exit('%s: no examples found' % args.file)
    marker = '@@example %d@@'
    script = []
    for n, (stmt, _) in enumerate(found):
        script.append('\\echo ' + marker % n)
        script.append(stmt)
    script.append('\\echo ' + marker % len(found))
    cmd = ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=0', '-v', 'SHOW_CONTEXT=never',
           '-P', 'pager=off']
    if not args.footer:
        cmd += ['-P', 'footer=off']
    run = subprocess.run(cmd, input='\n'.join(script) + '\n', stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, universal_newlines=True)
    got = {}
    current = None
    for line in run.stdout.split('\n'):
        if line.startswith('@@example ') and line.endswith('@@'):
            current = int(line[len('@@example '):-2])
            got[current] = []
        elif current is not None:
            got[current].append(line)
        elif line.strip():
            print('unexpected output before the first example: ' + line)
            return 1
    bad = 0
    for n, (stmt, out) in enumerate(found):
        want, have = normal(out), normal(got.get(n, ['(no output: psql stopped)']))
        if want != have:
            bad += 1
            print('%s: the output of\n=> %s\ndiffers from the page:' % (args.file, stmt))
            sys.stdout.writelines(line + '\n' for line in difflib.unified_diff(
                want, have, 'page', 'psql', lineterm='', n=2))
    if len(got) != len(found) + 1:
        print('psql ran %d of %d examples' % (max(len(got) - 1, 0), len(found)))
        bad += 1
    print('%s: %d examples, %d differ' % (args.file, len(found), bad), flush=True)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
