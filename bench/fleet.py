#!/usr/bin/env python3
"""A fleet run against the shell loop it replaces, on SQLite files and PostgreSQL schemas.

In one invocation, with the release binary of the example chain (8 migrations, a CSV
file made and transformed):
- N empty SQLite tenant files upgraded to the newest version by one
  `semigrate upgrade --fleet FILE` (default --parallel: 8 a core), against the same
  upgrades as one process per file in a bash `for` loop, on a fresh copy of the files;
  the fleet's peak RSS (GNU time) at N/10 and at N stores;
- `status --fleet` over the N upgraded files (the median of three runs);
- M empty PostgreSQL schemas of a database on the local server, by a `schemas`
  query, against a bash loop of `--database URL --schema S upgrade` on M schemas of
  another; the most sessions of semigrate's seen at once during the fleet run
  (pg_stat_activity, polled).
- the chain's SQL without the fleet, twice, through the stock clients: `sqlite3` on
  fresh copies of the files, as many at once as the fleet runs, and `psql` sessions, as
  many as the fleet holds, each taking its share of M schemas of a database of its own:
  - bare SQL, a lower bound: the chain's statements alone (`upgrade --dry-run`'s: no
    CSV file, no Rust step, no history, no backup), one transaction a store, VACUUM
    left out. Whatever a fleet does, it does at least that work;
  - with its history: the same statements as a store must commit them, each migration
    in a transaction of its own (or, outside one, as its SQL is, VACUUM included) that
    writes its history and log rows, after semigrate's tables are made (the tables and
    rows the fleet wrote to its first store), a SQLite file synced and journaled as a
    store's is. A run that keeps its guarantees does all of this work and more (checks,
    CSV files, state file, lock), though not at the stock client's pace: `sqlite3`
    starts a process a file, and `psql` waits for each statement.
Each timed run starts once the disk has taken what the one before wrote (`sync`), so
that no run pays for another's writes. Prints a Markdown table.

Usage: bench/fleet.py [N] [M]   (defaults 10000 and 1000)
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = "postgres://postgres@127.0.0.1:5432"
BINARY = ROOT / "target" / "release" / "semigrate"


def tenants(folder, n):
    """N empty stores (an empty file is an empty SQLite database) and their fleet file."""
    for i in range(n):
        d = folder / "t" / f"{i:05}"
        d.mkdir(parents=True)
        (d / "app.db").touch()
    (folder / "fleet.txt").write_text("t/*/app.db\n")


def timed(command, cwd, **kwargs):
    os.sync()
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - start


def fleet_rss(folder, args):
    """Wall time and peak RSS (KiB) of a fleet run, by GNU time."""
    os.sync()
    start = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-f", "%M", BINARY, *args], cwd=folder,
                         check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    return wall, int(out.stderr.strip().splitlines()[-1])


def psql(database, sql):
    return subprocess.run(["psql", "-X", "-q", "-At", f"{SERVER}/{database}", "-c", sql],
                          check=True, capture_output=True, text=True).stdout


def chain(args):
    """The chain's migrations from 0.0.0 to the newest version, as `--dry-run` prints
    them for the store `args` names: (version, whether it runs outside a transaction,
    its SQL statements)."""
    plan = subprocess.run([BINARY, *args, "upgrade", "--dry-run"], check=True,
                          capture_output=True, text=True).stdout
    migrations = []
    for line in plan.splitlines():
        if line.startswith("-- ") and " up: " in line:
            migrations.append((line.split()[1], line.endswith("(outside a transaction)"), ""))
        elif not line.startswith("--") and migrations:
            version, outside, sql = migrations[-1]
            migrations[-1] = (version, outside, sql + line + "\n")
    return migrations


def bare_sql(migrations):
    """The chain's SQL in one transaction, VACUUM left out (it cannot run in one;
    leaving it out only lowers the bound)."""
    sql = "".join(line + "\n" for _, _, text in migrations for line in text.splitlines()
                  if not line.upper().startswith("VACUUM"))
    return f"BEGIN;\n{sql}COMMIT;\n"


def kept_sql(migrations, tables, rows):
    """The chain's SQL as a store runs it: semigrate's `tables` made, then each
    migration in a transaction of its own with its history and log `rows` (by
    version); one that runs outside a transaction, as it is, before them."""
    script = tables
    for version, outside, sql in migrations:
        script += f"{sql}BEGIN;\n{rows[version]}COMMIT;\n" if outside else \
            f"BEGIN;\n{sql}{rows[version]}COMMIT;\n"
    return script


def by_version(lines):
    """Lines of `VERSION|STATEMENT`, gathered by version."""
    rows = {}
    for line in lines.splitlines():
        version, statement = line.split("|", 1)
        rows[version] = rows.get(version, "") + statement + "\n"
    return rows


def sqlite_kept(store):
    """The tables and rows of semigrate's history as the SQLite file `store` has them,
    after the settings a store is run with: each commit synced to the disk, the
    rollback journal kept between commits."""
    def query(sql):
        return subprocess.run(["sqlite3", store, sql], check=True, capture_output=True,
                              text=True).stdout
    tables = "PRAGMA synchronous = EXTRA;\nPRAGMA journal_mode = PERSIST;\n" + query(
        "SELECT sql || ';' FROM sqlite_master WHERE name LIKE 'semigrate\\_%' ESCAPE '\\' "
        "AND sql IS NOT NULL")
    return tables, by_version(query(
        "SELECT version, 'INSERT INTO semigrate_migrations VALUES (' || quote(version) || ', ' "
        "|| quote(description) || ', ' || quote(checksum) || ', ' || quote(applied_at) || ', ' "
        "|| duration_ms || ', ' || quote(revert) || ');' FROM semigrate_migrations UNION ALL "
        "SELECT version, 'INSERT INTO semigrate_log (command, version, direction, from_version, "
        "to_version, outcome, duration_ms) VALUES (' || quote(command) || ', ' || quote(version) "
        "|| ', ' || quote(direction) || ', ' || quote(from_version) || ', ' || quote(to_version) "
        "|| ', ' || quote(outcome) || ', ' || duration_ms || ');' FROM semigrate_log"))


def postgres_kept(url, schema):
    """The tables and rows of semigrate's history as `schema` of the database at `url`
    has them, the schema's name taken out."""
    dump = subprocess.run(["pg_dump", "--schema-only", "--no-owner", "--no-privileges",
                           "--table", f"{schema}.semigrate_*", url], check=True,
                          capture_output=True, text=True).stdout
    tables = "".join(line.replace(f"{schema}.", "") + "\n" for line in dump.splitlines()
                     if line and not line.startswith(("--", "\\", "SET ", "SELECT pg_catalog.")))
    out = subprocess.run(["psql", "-X", "-q", "-At", url, "-c", f"SET search_path TO {schema}", "-c",
                          "SELECT version, format('INSERT INTO semigrate_migrations VALUES "
                          "(%L, %L, %L, %L, %s, %L);', version, description, checksum, applied_at, "
                          "duration_ms, revert) FROM semigrate_migrations UNION ALL "
                          "SELECT version, format('INSERT INTO semigrate_log (command, version, "
                          "direction, from_version, to_version, outcome, duration_ms) VALUES "
                          "(%L, %L, %L, %L, %L, %L, %s);', command, version, direction, from_version, "
                          "to_version, outcome, duration_ms) FROM semigrate_log"],
                         check=True, capture_output=True, text=True).stdout
    return tables, by_version(out)


def sqlite_bound(n, work, name, script):
    """`sqlite3` running `script` on each of N fresh files, the fleet's number of them
    at once."""
    c = work / name
    tenants(c, n)
    (c / "chain.sql").write_text(script)
    at_once = os.cpu_count() * 8
    return timed(["bash", "-c", f'printf "%s\\n" t/*/app.db | xargs -P {at_once} -I{{}} '
                  f'sqlite3 -bail {{}} ".read chain.sql"'], c)


def postgres_bound(m, url, sessions, script):
    """`sessions` psql sessions, each running `script` on its share of the M schemas of
    the database at `url`."""
    scripts = [[] for _ in range(sessions)]
    for i in range(m):
        scripts[i % sessions].append(f"SET search_path TO s_{i:04};\n{script}")
    os.sync()
    start = time.perf_counter()
    running = [subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, text=True) for _ in scripts]
    for process, script in zip(running, scripts):
        process.stdin.write("".join(script))
        process.stdin.close()
    for process in running:
        if process.wait() != 0:
            raise SystemExit("psql failed on the chain's SQL")
    return time.perf_counter() - start


def sqlite_figures(n, work):
    rows = []
    small = work / "small"
    tenants(small, max(n // 10, 1))
    _, rss_small = fleet_rss(small, ["upgrade", "--fleet", "fleet.txt", "--report", "r.json"])
    a, b = work / "fleet", work / "loop"
    tenants(a, n)
    tenants(b, n)
    fleet, rss = fleet_rss(a, ["upgrade", "--fleet", "fleet.txt", "--report", "r.json"])
    loop = timed(["bash", "-c", f'for f in t/*/app.db; do "{BINARY}" -q --database "$f" upgrade; done'], b)
    probe = work / "probe.db"
    probe.touch()
    migrations = chain(["--database", str(probe)])
    bare = sqlite_bound(n, work, "bare", bare_sql(migrations))
    kept = sqlite_bound(n, work, "kept", kept_sql(migrations, *sqlite_kept(a / "t" / "00000" / "app.db")))
    rows.append((f"upgrade of {n:,} SQLite files to 2.2.0: `upgrade --fleet` against a bash loop of one process a file",
                 fleet, loop, bare, kept))
    # The median of three: a single read of 10,000 files swings with the machine's hour.
    status = sorted(timed([BINARY, "status", "--fleet", "fleet.txt"], a) for _ in range(3))[1]
    summary = subprocess.run([BINARY, "status", "--fleet", "fleet.txt"], cwd=a, check=True,
                             capture_output=True, text=True).stdout.strip().splitlines()
    return rows, rss_small, rss, status, summary


def postgres_figures(m, work):
    """The fleet, the loop and each bound on M schemas of a database of their own, so
    that none of them reads a catalog another one grew."""
    sides = ("fleet", "loop", "bare", "kept")
    names = [f"semigrate_fleet_bench_{os.getpid()}_{side}" for side in sides]
    for database in names:
        psql("postgres", f"DROP DATABASE IF EXISTS {database}")
        psql("postgres", f"CREATE DATABASE {database}")
        psql(database, "".join(f"CREATE SCHEMA s_{i:04};" for i in range(m)))
    try:
        fleet_url, loop_url, bare_url, kept_url = (f"{SERVER}/{d}" for d in names)
        folder = work / "pg"
        folder.mkdir()
        (folder / "fleet.txt").write_text(
            f"{fleet_url} schemas SELECT nspname FROM pg_namespace WHERE nspname LIKE 's\\_%' ORDER BY 1\n")
        seen = [0]
        done = threading.Event()

        def watch():
            while not done.is_set():
                n = int(psql(names[0], "SELECT count(*) FROM pg_stat_activity WHERE "
                             "application_name = 'semigrate' AND query LIKE '%semigrate_%'").strip())
                seen[0] = max(seen[0], n)
                time.sleep(0.02)

        watcher = threading.Thread(target=watch)
        watcher.start()
        fleet = timed([BINARY, "upgrade", "--fleet", "fleet.txt", "--report", "r.json"], folder)
        done.set()
        watcher.join()
        loop = timed(["bash", "-c", f'for i in $(seq -f %04g 0 {m - 1}); do "{BINARY}" -q --database "{loop_url}" '
                      f'--schema "s_$i" upgrade; done'], folder)
        sessions = max(seen[0], 1)
        migrations = chain(["--database", bare_url, "--schema", "s_0000"])
        bare = postgres_bound(m, bare_url, sessions, bare_sql(migrations))
        kept = postgres_bound(m, kept_url, sessions, kept_sql(migrations, *postgres_kept(fleet_url, "s_0000")))
        return (f"upgrade of {m:,} PostgreSQL schemas to 2.2.0: `upgrade --fleet` (schemas by query) against "
                f"a bash loop of `--database URL --schema S upgrade`", fleet, loop, bare, kept), seen[0]
    finally:
        for database in names:
            psql("postgres", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    subprocess.run(["cargo", "build", "-q", "--release", "--bin", "semigrate"], cwd=ROOT, check=True)
    work = Path(tempfile.mkdtemp())
    try:
        rows, rss_small, rss, status, summary = sqlite_figures(n, work)
        pg_row, sessions = postgres_figures(m, work)
        rows.append(pg_row)
        cores = os.cpu_count()
        print(f"| figure (`bench/fleet.py {n} {m}`, {cores} cores) | fleet | loop | ratio "
              "| bare SQL (its ratio) | with its history (its ratio) | fleet / with its history |")
        print("|---|---|---|---|---|---|---|")
        for what, fleet, loop, bare, kept in rows:
            print(f"| {what} | {fleet:.2f} s | {loop:.2f} s | {fleet / loop:.3f}x | {bare:.2f} s "
                  f"({bare / loop:.3f}x) | {kept:.2f} s ({kept / loop:.3f}x) | {fleet / kept:.2f}x |")
        print()
        print(f"- peak RSS of the fleet run: {rss_small / 1024:.1f} MiB at {max(n // 10, 1):,} stores, "
              f"{rss / 1024:.1f} MiB at {n:,}")
        print(f"- `status --fleet` over the {n:,} upgraded files, median of 3: {status:.2f} s ({' / '.join(summary)})")
        print(f"- most semigrate sessions at once during the PostgreSQL fleet run: {sessions}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
