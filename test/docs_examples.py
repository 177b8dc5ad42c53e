#!/usr/bin/env python3
"""Runs the SQL examples of the documentation and compares the output they show, so an example
that stops working fails the suite. Standard library only; psql does the talking.

How a document is marked (it renders as ordinary code blocks on GitHub):

  ```sql                 runs. Blocks run in the order of the document, in one psql session
                         (psql variables set with \\set or \\gset carry over), as the superuser
                         unless a block changes role (SET ROLE, \\c). An error fails the test,
                         unless the block's shown output expects it.
  ```sql norun           is not run; say why in the text (a real URL, a second server, pg_cron's
                         minute). An `output` block after it is not compared either.
  ```output              right after a ```sql block (only blank lines between them): what psql
                         prints for the block (results, NOTICEs, ERROR/DETAIL/HINT/CONTEXT
                         lines; not the statements, nor what statements with an inline
                         expectation print), compared after normalising (below).
  SELECT ...;  -- => v   a trailing comment whose text starts with "=>", or holds " => ",
                         expects the statement that ends on that line to print v: its one row's
                         columns joined by " | " (rows joined by "; "), or its first ERROR line,
                         or what \\echo printed. Text before "=>" is prose.
  -- => v                a comment line of its own that starts with "=>" expects the same of the
                         code line before it (for long statements); other comment lines are prose.

  Other blocks (yaml, sh, plain ```) are not run.

psql runs with -X -q and \\pset footer off (no "(N rows)" lines); before each block the output
format is reset to aligned with headers, so a block may use \\a, \\t or \\x.

Comparing: both sides have blank lines dropped, runs of spaces collapsed (so column widths do not
matter) and runs of "-" in table rulers shortened; psql's "Asynchronous notification" lines
(LISTEN) are dropped from what psql printed. In the expected text:

  N          any number (also the letter N itself): run ids, counts, seconds, pids, OIDs
             (not after a capital letter or digit, nor before a letter or digit: "rN_load" has
             one, "IN" and "N1" none)
  PORT       the test HTTP server's port
  XXXXXXXX   eight hex digits (the random part of staging and new-table names)
  ...        any text inside a line; a line of its own: any lines, or none (abridged output)

Per document, an HTML comment (invisible on GitHub) may say how to set it up:

  <!-- docs_examples: database=launcher -->   run in the launcher's database (pipeline.database,
      where pg_cron lives in the test cluster), made fresh first: pg_pipeline, pg_cron and plpython3u
      dropped,
      the schemas, public objects and roles it makes are dropped afterwards; the extensions a
      later test expects are put back. Default: a new database docs_<name>.
  <!-- docs_examples: extensions=none -->   the document creates the extensions itself; default:
      CREATE EXTENSION plpython3u; CREATE EXTENSION pg_pipeline; before its first block.

Roles the document creates (CREATE ROLE x) are dropped before and after it, and in the launcher's
database so are the schemas it creates (CREATE SCHEMA x), which another test may have left there;
settings it makes with ALTER SYSTEM are put back afterwards.

Usage: docs_examples.py [--psql PSQL] [--var NAME=VALUE]... [--file-var NAME=PATH]...
                        [--cwd DIR] [--keep] [--timeout S] DOC.md...
  --var        a psql variable for every document (the docs explain each where first used)
  --file-var   a psql variable holding a file's text (one trailing newline removed, as psql's
               backquotes do)
  --cwd        psql's working directory (for \\set x `cat examples/...`); default: the repository
  --keep       keep the databases made for documents
Exit status 1 when any example fails; each failure names the document and line, with a diff.
The connection comes from PGHOST, PGPORT and PGUSER.
"""
import argparse
import difflib
import os
import re
import subprocess
import sys

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^`]*?)\s*$")
DIRECTIVE = re.compile(r"<!--\s*docs_examples:\s*(.*?)\s*-->")
NOTIFICATION = re.compile(r'^Asynchronous notification ".*" (with payload ".*" )?received from server process with PID \d+\.$')
BLOCK_MARK = "@@docs_examples block {}@@"
RESET = ["\\pset format aligned", "\\pset tuples_only off", "\\pset expanded off", "\\pset footer off",
         "\\set VERBOSITY default"]


class Block:
    """A fenced block: its first line (1-based, the fence), info string and text."""

    def __init__(self, line, info, text):
        self.line, self.info, self.text = line, info, text
        words = info.split()
        self.lang = words[0] if words else ""
        self.flags = words[1:]
        self.output = None  # the `output` block that follows a sql block


def parse(path, name):
    """The document's fenced blocks, sql blocks paired with their output, its directives, and
    problems of marking (named as NAME:line)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    blocks, directives, i = [], {}, 0
    for m in DIRECTIVE.finditer("\n".join(lines)):
        for kv in m.group(1).split():
            k, _, v = kv.partition("=")
            directives[k] = v
    ends = {}  # block index -> line index after its closing fence
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = len(m.group(1)), m.group(2), m.group(3)
        j, body = i + 1, []
        while j < len(lines):
            c = FENCE.match(lines[j])
            if c and c.group(2)[0] == fence[0] and len(c.group(2)) >= len(fence) and not c.group(3):
                break
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        blocks.append(Block(i + 1, info, "\n".join(body)))
        ends[len(blocks) - 1] = j + 1
        i = j + 1
    problems = []
    for k, b in enumerate(blocks):
        if b.lang == "sql" and "norun" not in b.flags and unterminated(b.text):
            problems.append(f"{name}:{b.line}: the block ends inside a statement (no ';'): finish it, or mark it "
                            "sql norun, or show it as another language")
        after_sql = k > 0 and blocks[k - 1].lang == "sql" and not "\n".join(lines[ends[k - 1]:b.line - 1]).strip()
        if b.lang == "" and after_sql:
            problems.append(f"{name}:{b.line}: a plain block right after a sql block: mark it output (compared) "
                            "or put a sentence between them")
        if b.lang != "output":
            continue
        prev = blocks[k - 1] if k > 0 else None
        gap = "" if prev is None else "\n".join(lines[ends[k - 1]:b.line - 1]).strip()
        if prev is None or prev.lang != "sql" or gap:
            problems.append(f"{name}:{b.line}: an output block must follow a sql block directly")
        elif prev.output is None:
            prev.output = b
    return blocks, directives, problems


def comments(text):
    """(line index, comment text, code before it on the line) for each -- comment of SQL text
    (not inside quotes, dollar quotes or psql meta-command lines)."""
    found, state, tag = [], None, ""
    for n, line in enumerate(text.split("\n")):
        if state is None and line.lstrip().startswith("\\"):
            continue
        i = 0
        while i < len(line):
            ch = line[i]
            if state is None:
                if line.startswith("--", i):
                    found.append((n, line[i + 2:].strip(), line[:i].strip()))
                    break
                if ch == "'":
                    state = "'"
                elif ch == '"':
                    state = '"'
                elif ch == "$":
                    m = re.match(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$", line[i:])
                    if m:
                        state, tag = "$", m.group(0)
                        i += len(tag)
                        continue
                elif line.startswith("/*", i):
                    state = "/*"
                    i += 2
                    continue
            elif state == "'" and ch == "'":
                if line.startswith("''", i):
                    i += 2
                    continue
                state = None
            elif state == '"' and ch == '"':
                state = None
            elif state == "$" and line.startswith(tag, i):
                state = None
                i += len(tag)
                continue
            elif state == "/*" and line.startswith("*/", i):
                state = None
                i += 2
                continue
            i += 1
    return found


def unterminated(text):
    """Whether SQL text ends inside a statement (its last code is neither ';' nor a psql
    meta-command), which would run glued to the next block's first statement."""
    lines = text.split("\n")
    for n, _, code in comments(text):
        lines[n] = code
    code = [l.strip() for l in lines if l.strip()]
    return bool(code) and not code[-1].startswith("\\") and "\\g" not in code[-1] and not code[-1].endswith(";")


def expectations(text):
    """{line index: expected text} from `-- ... => v` comments: trailing ones expect what their
    line printed; a comment line of its own that starts with "=>" expects what the code line
    before it printed."""
    out, code_lines = {}, set()
    found = comments(text)
    commented = {n: code for n, _, code in found}
    for n, line in enumerate(text.split("\n")):
        if line.strip() and (n not in commented or commented[n]):
            code_lines.add(n)
    for n, comment, code in found:
        if not code:
            before = [m for m in code_lines if m < n]
            if comment.startswith("=>") and before:
                out[max(before)] = comment[2:].strip()
        elif comment.startswith("=>"):
            out[n] = comment[2:].strip()
        elif " => " in comment:
            out[n] = comment.rsplit(" => ", 1)[1].strip()
    return out


def normalise(text, actual):
    """Lines to compare: blank lines dropped, spaces collapsed, rulers shortened."""
    lines = []
    for line in text.split("\n"):
        if actual and NOTIFICATION.match(line.strip()):
            continue
        line = re.sub(r"\s+", " ", line).strip()
        if not line:
            continue
        if re.fullmatch(r"[-+]+", line):
            line = re.sub(r"-+", "-", line)
        lines.append(line)
    return lines


def pattern(expected_lines):
    """A regex for the normalised expected lines, placeholders made wildcards."""
    parts = []
    for line in expected_lines:
        if line == "...":
            parts.append(r"(?:[^\n]*\n)*?")
            continue
        p = re.escape(line)
        p = p.replace(r"\.\.\.", r"[^\n]*?")
        p = re.sub(r"(?<![A-Za-z0-9])PORT(?![A-Za-z0-9])", r"[0-9]+", p)
        p = re.sub(r"(?<![A-Za-z0-9])XXXXXXXX(?![A-Za-z0-9])", r"[0-9a-f]{8}", p)
        p = re.sub(r"(?<![A-Z0-9])N(?![A-Za-z0-9])", r"(?:N|-?[0-9]+(?:\\.[0-9]+)?)", p)
        parts.append(p + r"\n")
    return re.compile("".join(parts), re.S)


def matches(expected_lines, actual_lines):
    return pattern(expected_lines).fullmatch("".join(l + "\n" for l in actual_lines)) is not None


def values(result_lines):
    """What an inline expectation is compared with: the first ERROR line, else the rows of a
    table (cells joined by " | ", rows by "; "), else the lines as printed."""
    lines = normalise("\n".join(result_lines), True)
    for line in lines:
        if line.startswith("ERROR:"):
            return [line]
    lines = [l for l in lines if not re.match(r"(NOTICE|WARNING|INFO|DETAIL|HINT|CONTEXT):", l)]
    ruler = next((k for k, l in enumerate(lines) if re.fullmatch(r"[-+]+", l)), None)
    if ruler == 1:
        return ["; ".join(lines[2:])]
    return lines


class Failure(Exception):
    pass


class Runner:
    def __init__(self, args):
        self.args = args
        self.counts = {"run": 0, "compared": 0, "inline": 0, "norun": 0}
        self.failures = []

    def psql(self, db, sql, check=True):
        """Runs sql in db as a script; returns stdout."""
        r = subprocess.run([self.args.psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", db],
                           input=sql, capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise Failure(f"setup failed in {db}: {r.stderr.strip()}")
        return r.stdout

    def launcher_db(self):
        return self.psql("postgres", "SELECT current_setting('pipeline.database', true)").strip() or "postgres"

    def created_roles(self, blocks):
        names = set()
        for b in blocks:
            for m in re.finditer(r"(?i)\bCREATE\s+(?:ROLE|USER)\s+(\"[^\"]+\"|\w+)", b.text):
                names.add(m.group(1).strip('"'))
        return sorted(names)

    def created_schemas(self, blocks):
        names = set()
        for b in blocks:
            for m in re.finditer(r"(?i)\bCREATE\s+SCHEMA\s+(?:IF\s+NOT\s+EXISTS\s+)?(\"[^\"]+\"|\w+)", b.text):
                names.add(m.group(1).strip('"'))
        return sorted(names)

    def drop_roles(self, roles, dbs):
        for role in roles:
            lit = role.replace("'", "''")
            if self.psql("postgres", f"SELECT count(*) FROM pg_roles WHERE rolname = '{lit}'").strip() == "0":
                continue
            ident = '"' + role.replace('"', '""') + '"'
            for db in dbs:
                self.psql(db, f"DROP OWNED BY {ident} CASCADE", check=False)
            self.psql("postgres", f"DROP ROLE {ident}")

    def auto_conf(self):
        return self.psql("postgres", "SELECT name || '=' || setting FROM pg_file_settings "
                                     "WHERE sourcefile LIKE '%postgresql.auto.conf' ORDER BY seqno").split("\n")

    def restore_auto_conf(self, before):
        if self.auto_conf() == before:
            return
        sql = ["ALTER SYSTEM RESET ALL;"]
        for kv in before:
            if kv:
                name, _, value = kv.partition("=")
                sql.append(f"ALTER SYSTEM SET {name} = '{value.replace(chr(39), chr(39) * 2)}';")
        sql.append("SELECT pg_reload_conf();")
        self.psql("postgres", "\n".join(sql))

    def snapshot(self, db):
        return set(self.psql(db, """
            SELECT 'schema ' || quote_ident(nspname) FROM pg_namespace
             WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('information_schema', 'public')
            UNION ALL
            SELECT 'table public.' || quote_ident(relname) FROM pg_class
             WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'v', 'm', 'p', 'f', 'S')
            UNION ALL
            SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p
             WHERE pronamespace = 'public'::regnamespace""").split("\n")) - {""}

    def setup(self, doc, blocks, directives):
        """Makes the document's database; returns (database, clean-up function)."""
        roles = self.created_roles(blocks)
        before_conf = self.auto_conf()
        create_ext = directives.get("extensions", "default") != "none"
        if directives.get("database") == "launcher":
            db = self.launcher_db()
            self.psql(db, "SET client_min_messages = warning;\n"
                          "DROP EXTENSION IF EXISTS pg_pipeline CASCADE;\nDROP EXTENSION IF EXISTS pg_cron CASCADE;\n"
                          "DROP EXTENSION IF EXISTS plpython3u CASCADE;")
            for schema in self.created_schemas(blocks):
                self.psql(db, "SET client_min_messages = warning;\nDROP SCHEMA IF EXISTS "
                              + '"' + schema.replace('"', '""') + '" CASCADE;')
            self.drop_roles(roles, [db])
            before = self.snapshot(db)
            if create_ext:
                self.psql(db, "SET client_min_messages = warning;\nCREATE EXTENSION IF NOT EXISTS plpython3u;\n"
                              "CREATE EXTENSION IF NOT EXISTS pg_cron;\nCREATE EXTENSION pg_pipeline;")

            def cleanup():
                self.psql(db, "SET client_min_messages = warning;\nDROP EXTENSION IF EXISTS pg_pipeline CASCADE;",
                          check=False)
                for obj in sorted(self.snapshot(db) - before, reverse=True):
                    kind, _, name = obj.partition(" ")
                    self.psql(db, f"DROP {kind.upper()} IF EXISTS {name} CASCADE", check=False)
                self.drop_roles(roles, [db])
                self.psql(db, "SET client_min_messages = warning;\nCREATE EXTENSION IF NOT EXISTS plpython3u;\n"
                              "CREATE EXTENSION IF NOT EXISTS pg_cron;\nCREATE EXTENSION pg_pipeline;")
                self.restore_auto_conf(before_conf)
            return db, cleanup
        db = "docs_" + re.sub(r"[^a-z0-9]+", "_", os.path.basename(doc).lower().rsplit(".", 1)[0])
        self.psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE);")
        self.drop_roles(roles, ["postgres"])
        self.psql("postgres", f"CREATE DATABASE {db};")
        if create_ext:
            self.psql(db, "SET client_min_messages = warning;\nCREATE EXTENSION plpython3u;\nCREATE EXTENSION pg_pipeline;")

        def cleanup():
            self.psql(db, "SET client_min_messages = warning;\nDROP EXTENSION IF EXISTS pg_pipeline CASCADE;", check=False)
            self.drop_roles(roles, [db, "postgres"])
            if not self.args.keep:
                self.psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE);")
            self.restore_auto_conf(before_conf)
        return db, cleanup

    def run_doc(self, path, doc):
        blocks, directives, problems = parse(path, doc)
        for p in problems:
            self.fail(p, "")
        runnable = [b for b in blocks if b.lang == "sql" and "norun" not in b.flags]
        self.counts["norun"] += sum(1 for b in blocks if b.lang == "sql" and "norun" in b.flags)
        if not runnable:
            return
        db, cleanup = self.setup(doc, blocks, directives)
        try:
            self.run_blocks(doc, db, runnable)
        finally:
            cleanup()

    def run_blocks(self, doc, db, runnable):
        script, inputs = [], []
        for k, b in enumerate(runnable):
            script.append("\\echo " + BLOCK_MARK.format(k))
            lines = RESET + b.text.split("\n") + ["\\r"]  # (\\r: an unfinished statement stays in its block)
            script.extend(lines)
            inputs.append(lines)
        cmd = [self.args.psql, "-X", "-q", "-a", "-d", db]
        for name, value in self.args.vars:
            cmd += ["-v", f"{name}={value}"]
        r = subprocess.run(cmd, input="\n".join(script) + "\n", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, cwd=self.args.cwd, timeout=self.args.timeout)
        out = r.stdout.split("\n")
        if os.environ.get("DOCS_EXAMPLES_DEBUG"):  # the script psql ran and what it printed
            with open(os.environ["DOCS_EXAMPLES_DEBUG"] + "." + db, "w", encoding="utf-8") as f:
                f.write("\n".join(script) + "\n=====\n" + r.stdout)
        starts = [out.index(BLOCK_MARK.format(k)) if BLOCK_MARK.format(k) in out else None
                  for k in range(len(runnable))]
        for k, b in enumerate(runnable):
            self.counts["run"] += 1
            where = f"{doc}:{b.line}"
            if starts[k] is None:
                self.fail(where, "psql stopped before this block:\n" + "\n".join(out[-20:]))
                continue
            end = next((s for s in starts[k + 1:] if s is not None), len(out))
            segment = out[starts[k] + 1:end]
            if k + 1 < len(runnable) and segment and segment[-1] == "\\echo " + BLOCK_MARK.format(k + 1):
                segment = segment[:-1]
            self.check_block(where, b, inputs[k], segment)

    def check_block(self, where, block, input_lines, segment):
        """Attributes psql's output to the input lines it follows (-a echoes each non-empty line
        before running what it ends), then checks expectations."""
        per_line, pos = {}, 0
        echoed = [(n, l) for n, l in enumerate(input_lines) if l.strip()]
        results = []
        for idx, (n, line) in enumerate(echoed):
            if pos < len(segment) and segment[pos] == line:
                pos += 1
            else:
                self.fail(where, f"could not follow psql's output at input line {line!r}")
                return
            nxt = echoed[idx + 1][1] if idx + 1 < len(echoed) else None
            start = pos
            while pos < len(segment) and (nxt is None or segment[pos] != nxt):
                pos += 1
            per_line[n] = segment[start:pos]
        offset = len(RESET)
        inline = expectations(block.text)
        results = [l for n, lines in sorted(per_line.items()) if n - offset not in inline for l in lines]
        for n, expected in inline.items():
            self.counts["inline"] += 1
            got = values(per_line.get(n + offset, []))
            if not matches(normalise(expected, False), got):
                self.fail(f"{where} (line {block.line + 1 + n})",
                          f"expected => {expected}\n     got => {' / '.join(got) or '(nothing)'}")
        if block.output is not None:
            self.counts["compared"] += 1
            exp, got = normalise(block.output.text, False), normalise("\n".join(results), True)
            if not matches(exp, got):
                # (lines that match an expected line are shown as it, so the diff shows what differs)
                shown = [next((e for e in exp if e != "..." and matches([e], [g])), g) for g in got]
                diff = "\n".join(difflib.unified_diff(exp, shown, "documented output", "psql printed", lineterm="", n=2))
                self.fail(where, "the output differs:\n" + diff)
        else:
            errors = [l for l in results if l.startswith("ERROR:") or re.match(r"psql:.*(ERROR|error):", l)]
            shown = {n for n, e in inline.items() if e.startswith("ERROR")}
            unexpected = [e for n, lines in per_line.items() if n - offset not in shown
                          for e in lines if e in errors]
            if unexpected:
                self.fail(where, "the block failed: " + "\n".join(unexpected))

    def fail(self, where, message):
        self.failures.append(where)
        print(f"FAIL {where}" + (f": {message}" if message else ""), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("docs", nargs="+")
    ap.add_argument("--psql", default="psql")
    ap.add_argument("--var", action="append", default=[])
    ap.add_argument("--file-var", action="append", default=[])
    ap.add_argument("--cwd", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    args.vars = [tuple(v.split("=", 1)) for v in args.var]
    for v in args.file_var:
        name, path = v.split("=", 1)
        text = open(os.path.join(args.cwd, path), encoding="utf-8").read()
        args.vars.append((name, text[:-1] if text.endswith("\n") else text))
    runner = Runner(args)
    for doc in args.docs:
        path = os.path.abspath(doc)
        doc = os.path.relpath(path, args.cwd)
        before = len(runner.failures)
        try:
            runner.run_doc(path, doc)
        except (Failure, subprocess.TimeoutExpired) as e:
            runner.fail(doc, str(e))
        print(f"{doc}: {'ok' if len(runner.failures) == before else 'FAILED'}", flush=True)
    c = runner.counts
    print(f"docs examples: {c['run']} blocks run, {c['compared']} outputs and {c['inline']} inline results "
          f"compared, {c['norun']} marked norun; {len(runner.failures)} failures")
    sys.exit(1 if runner.failures else 0)


if __name__ == "__main__":
    main()
