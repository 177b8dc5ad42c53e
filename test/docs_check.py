#!/usr/bin/env python3
"""Checks docs/sql-reference.md against the installed extension, so the docs cannot drift:
every function of schema pipeline (name, arguments as pg_get_function_arguments prints them,
result, language, volatility, strictness, SECURITY DEFINER, whether pipeline_user may call it),
every pipeline.* GUC (default, unit, who may set it) and every catalog table must be in the
reference's tables exactly, and nothing else may be. Reads the catalog through psql (PGHOST and
friends from the environment). Usage: docs_check.py PSQL DOCS_FILE; prints each difference and
exits 1 when there is any."""
import re
import subprocess
import sys

LANGUAGES = {"c": "C", "sql": "SQL", "plpgsql": "PL/pgSQL", "plpython3u": "PL/Python"}
VOLATILITY = {"v": "VOLATILE", "s": "STABLE", "i": "IMMUTABLE"}
WHO_SETS = {"user": "any user", "superuser": "superuser", "sighup": "configuration file, on reload",
            "postmaster": "server start only"}


def query(psql, sql):
    """Rows of `sql` as lists of strings (tab-separated, unaligned)."""
    out = subprocess.run([psql, "-X", "-q", "-At", "-F", "\t", "-d", "postgres", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def doc_rows(text, heading, first_cell_pattern):
    """The rows of the first markdown table after `heading` whose first cell matches."""
    section = text.split(heading + "\n", 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("## ") and rows:
            break
        if line.startswith("| ") and re.match(first_cell_pattern, line[2:]):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def check_functions(psql, text, problems):
    actual = {}
    for name, result, lang, vol, strict, secdef, granted, python in query(psql, """
        SELECT format('pipeline.%s(%s)', p.proname, pg_get_function_arguments(p.oid)),
               pg_get_function_result(p.oid), l.lanname, p.provolatile, p.proisstrict, p.prosecdef,
               has_function_privilege('pipeline_user', p.oid, 'EXECUTE'),
               has_function_privilege('pipeline_python', p.oid, 'EXECUTE')
          FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
         WHERE p.pronamespace = 'pipeline'::regnamespace"""):
        actual[name] = (result, LANGUAGES.get(lang, lang), VOLATILITY[vol], strict == "t", secdef == "t", granted == "t",
                        python == "t")
    documented = {}
    for row in doc_rows(text, "## Functions", r"`pipeline\."):
        documented[row[0].strip("`")] = row
    for name in sorted(set(actual) - set(documented)):
        problems.append(f"function {name} is not in the functions table")
    for name in sorted(set(documented) - set(actual)):
        problems.append(f"the functions table documents {name}, which does not exist")
    for name in sorted(set(actual) & set(documented)):
        result, lang, vol, strict, secdef, granted, python = actual[name]
        _, returns, props, who = documented[name][:4]
        if not returns.startswith(f"`{result}`"):
            problems.append(f"{name} returns {result}, documented: {returns}")
        want = f"{lang}, `{vol}{' STRICT' if strict else ''}`"
        if not props.startswith(want) or ("not strict" in props) == strict or ("SECURITY DEFINER" in props) != secdef:
            problems.append(f"{name} is {want}{'' if strict else ', not strict'}{', SECURITY DEFINER' if secdef else ''}, documented: {props}")
        python_only = python and not granted  # (pipeline_python is a member of pipeline_user)
        if granted != ("`pipeline_user`" in who) or python_only != who.startswith("`pipeline_python`") or \
                (granted or python_only) == ("not granted" in who):
            problems.append(f"{name} is {'' if granted else 'not '}granted to pipeline_user"
                            f"{' but to pipeline_python' if python_only else ''}, documented: {who}")


def check_gucs(psql, text, problems):
    actual = {name: (boot, unit, context) for name, boot, unit, context in query(psql, """
        SELECT name, boot_val, coalesce(unit, ''), context FROM pg_settings WHERE name LIKE 'pipeline.%'""")}
    documented = {row[0].strip("`"): row for row in doc_rows(text, "## Configuration (GUCs)", r"`pipeline\.")}
    for name in sorted(set(actual) - set(documented)):
        problems.append(f"GUC {name} is not in the configuration table")
    for name in sorted(set(documented) - set(actual)):
        problems.append(f"the configuration table documents GUC {name}, which does not exist")
    for name in sorted(set(actual) & set(documented)):
        boot, unit, context = actual[name]
        _, default, doc_unit, _, who = documented[name][:5]
        shown = "`''`" if boot == "" else boot
        if not re.search(r"(?<![0-9A-Za-z])" + re.escape(shown) + r"(?![0-9A-Za-z])", default):
            problems.append(f"GUC {name} defaults to {boot!r}, documented: {default}")
        if unit and doc_unit != unit:
            problems.append(f"GUC {name} is in {unit}, documented: {doc_unit!r}")
        if who != WHO_SETS.get(context, context):
            problems.append(f"GUC {name} is set by {WHO_SETS.get(context, context)!r}, documented: {who!r}")


def check_tables(psql, text, problems):
    actual = {r[0] for r in query(psql, """SELECT relname FROM pg_class WHERE relnamespace = 'pipeline'::regnamespace
                                           AND relkind = 'r'""")}
    documented = {row[0].strip("`") for row in doc_rows(text, "## Tables", r"`[a-z_]+` \|")}
    for name in sorted(actual ^ documented):
        problems.append(f"table {name} is {'missing from' if name in actual else 'documented in, but not in'} the tables table")


def main():
    psql, docs = sys.argv[1], sys.argv[2]
    text = open(docs, encoding="utf-8").read()
    problems = []
    check_functions(psql, text, problems)
    check_gucs(psql, text, problems)
    check_tables(psql, text, problems)
    for p in problems:
        print("docs drift:", p)
    if problems:
        sys.exit(1)
    print("docs/sql-reference.md matches the code: every function, GUC and table")


if __name__ == "__main__":
    main()
