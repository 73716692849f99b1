#!/usr/bin/env python3
"""semigrate against the lower bounds, on a generated chain of N migrations.

Builds a release binary from the chain (bench/gen_chain.py) with
SEMIGRATE_MIGRATIONS_DIR, then times, in alternating pairs (A B A B ...):
- apply all N to a fresh SQLite file, against the sqlite3 CLI running the same SQL,
  each migration in its own BEGIN/COMMIT with one bookkeeping INSERT (both in
  SQLite's default rollback-journal mode); and `upgrade --atomic` against it;
- `status --json` on the store with N applied, against
  `sqlite3 db 'SELECT version FROM semigrate_migrations ORDER BY version'`;
- revert all N, against the sqlite3 CLI running the downs, each with its DELETE;
- `semigrate --version` (startup), and the binary's size, unstripped and stripped;
- apply all N to a fresh PostgreSQL database (the local server, 127.0.0.1:5432, user
  postgres), against `psql` running the same SQL, each migration in its own
  transaction with one bookkeeping INSERT.
Prints a Markdown table of medians and ratios.

Usage: bench/run.py [N] [PAIRS]   (defaults 1000 and 5)
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd, **kw) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.perf_counter() - start


def pairs(n, a, b):
    """Runs (setup, command) a and b alternately n times; returns both lists of times."""
    ta, tb = [], []
    for _ in range(n):
        for (setup, cmd), into in ((a, ta), (b, tb)):
            setup()
            into.append(timed(cmd))
    return ta, tb


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    work = Path(tempfile.mkdtemp(prefix="semigrate-bench-"))
    try:
        run(n, rounds, work)
    finally:
        shutil.rmtree(work)


def run(n: int, rounds: int, work: Path) -> None:
    chain = work / "migrations"
    subprocess.run([sys.executable, ROOT / "bench/gen_chain.py", str(n), chain], check=True)
    env = dict(os.environ, CARGO_TARGET_DIR=str(ROOT / "target/bench"),
               SEMIGRATE_MIGRATIONS_DIR=str(chain))
    subprocess.run(["cargo", "build", "-q", "--release"], cwd=ROOT, env=env, check=True)
    binary = ROOT / "target/bench/release/semigrate"
    db, raw = work / "store.db", work / "raw.db"

    def semigrate(*args):
        return [binary, "-q", "--no-backup", "--database", db, *args]

    def fresh(path):
        def setup():
            for p in (path, Path(f"{path}-journal"), work / "migration_state.json"):
                p.unlink(missing_ok=True)
        return setup

    # The lower bound's scripts: the same SQL, one transaction per migration, committed
    # as durably as semigrate commits (synchronous = EXTRA: the journal's deletion,
    # which is the commit, fsynced too). `up_full.sql` is the same at SQLite's default.
    up_sql = work / "up.sql"
    with up_sql.open("w") as f:
        f.write("PRAGMA synchronous = EXTRA;\n")
        f.write("CREATE TABLE semigrate_migrations (version TEXT PRIMARY KEY, description TEXT, "
                "checksum TEXT, applied_at TEXT, duration_ms INTEGER);\n")
        for i in range(1, n + 1):
            f.write(f"BEGIN;\nCREATE TABLE t_{i} (id INTEGER PRIMARY KEY, a TEXT, b REAL); "
                    f"INSERT INTO t_{i} (id, a, b) VALUES (1, 'x', 1.5);\n"
                    f"INSERT INTO semigrate_migrations VALUES ('0.0.{i}', 'Create t_{i}', "
                    f"'{i:064x}', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 0);\nCOMMIT;\n")
    up_full = work / "up_full.sql"
    up_full.write_text(up_sql.read_text().replace("PRAGMA synchronous = EXTRA;\n", ""))
    down_sql = work / "down.sql"
    with down_sql.open("w") as f:
        f.write("PRAGMA synchronous = EXTRA;\n")
        for i in range(n, 0, -1):
            f.write(f"BEGIN;\nDROP TABLE t_{i};\n"
                    f"DELETE FROM semigrate_migrations WHERE version = '0.0.{i}';\nCOMMIT;\n")

    def sqlite3(path, script):
        return ["sh", "-c", f"sqlite3 '{path}' < '{script}'"]

    rows = []

    def row(what, a, b, target=None):
        ma, mb = statistics.median(a), statistics.median(b)
        ratio = ma / mb
        verdict = "" if target is None else ("met" if ratio <= target else "**not met**")
        rows.append((what, ma, mb, ratio, f"≤ {target}×: {verdict}" if target else ""))

    up, bound = pairs(rounds, (fresh(db), semigrate("upgrade")), (fresh(raw), sqlite3(raw, up_sql)))
    row(f"apply {n} migrations to a fresh file", up, bound, 1.05)
    up2, full = pairs(rounds, (fresh(db), semigrate("upgrade")), (fresh(raw), sqlite3(raw, up_full)))
    row(f"apply {n}, against `sqlite3` at its default `synchronous = FULL` (not power-safe)",
        up2, full)
    atomic, bound2 = pairs(rounds, (fresh(db), semigrate("upgrade", "--atomic")),
                           (fresh(raw), sqlite3(raw, up_sql)))
    row(f"apply {n} with `--atomic` (one transaction)", atomic, bound2)

    # A store with every migration applied, copied before each revert.
    fresh(db)()
    subprocess.run(semigrate("upgrade"), check=True)
    applied = work / "applied.db"
    shutil.copy(db, applied)
    shutil.copy(db, raw)
    status, select = pairs(
        rounds * 4,
        (lambda: None, [binary, "--database", db, "--json", "status"]),
        (lambda: None, ["sqlite3", raw, "SELECT version FROM semigrate_migrations ORDER BY version"]))
    row(f"`status --json` with {n} applied", status, select, 1.5)

    def restore(path):
        return lambda: shutil.copy(applied, path)
    down, bound3 = pairs(rounds, (restore(db), semigrate("downgrade", "--version", "0.0.0")),
                         (restore(raw), sqlite3(raw, down_sql)))
    row(f"revert all {n}", down, bound3, 1.05)

    pg = "postgres://postgres@127.0.0.1:5432"
    up_pg = work / "up_pg.sql"
    up_pg.write_text(up_full.read_text().replace(
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"))

    def fresh_pg(name):
        def setup():
            for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
                subprocess.run(["psql", "-q", f"{pg}/postgres", "-c", sql], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return setup
    up_p, bound_p = pairs(
        rounds,
        (fresh_pg("semigrate_bench_a"),
         [binary, "-q", "--no-backup", "--database", f"{pg}/semigrate_bench_a", "upgrade"]),
        (fresh_pg("semigrate_bench_b"),
         ["psql", "-q", "-v", "ON_ERROR_STOP=1", f"{pg}/semigrate_bench_b", "-f", up_pg]))
    row(f"apply {n} migrations to a fresh PostgreSQL database", up_p, bound_p, 1.05)
    for name in ("semigrate_bench_a", "semigrate_bench_b"):
        subprocess.run(["psql", "-q", f"{pg}/postgres", "-c", f"DROP DATABASE {name}"],
                       check=True, stdout=subprocess.DEVNULL)

    start, true = pairs(rounds * 4, (lambda: None, [binary, "--version"]),
                        (lambda: None, ["true"]))
    size = binary.stat().st_size
    stripped = work / "stripped"
    subprocess.run(["strip", "-o", stripped, binary], check=True)

    print(f"| figure ({time.strftime('%Y-%m-%d')}, `bench/run.py {n} {rounds}`) "
          "| semigrate (median) | lower bound (median) | ratio | target |")
    print("|---|---|---|---|---|")
    for what, ma, mb, ratio, target in rows:
        print(f"| {what} | {ma:.3f} s | {mb:.3f} s | {ratio:.2f}× | {target} |")
    print(f"| `semigrate --version` (startup) | {statistics.median(start) * 1000:.1f} ms "
          f"| {statistics.median(true) * 1000:.1f} ms (`true`) | | |")
    print(f"| release binary size | {size / 1e6:.1f} MB unstripped, "
          f"{stripped.stat().st_size / 1e6:.1f} MB stripped | | | |")


if __name__ == "__main__":
    main()
