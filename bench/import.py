#!/usr/bin/env python3
"""`import --acknowledge` of an N-migration golang-migrate chain, against the lower bound.

Generates N migrations in golang-migrate's layout (`<n>_<name>.up.sql` and
`.down.sql`): tables, added columns and indexes, and one down in ten that forgets
the column its up added (a flaw the proof must find and acknowledge). Then times, in
alternating pairs:
- `semigrate import --from golang-migrate DIR --acknowledge` (read, map, prove on an
  in-memory SQLite, acknowledge, prove again, write the specs and files), against the
  sqlite3 CLI running what the proof runs at least once: every up, then every down and
  up again, on an in-memory database;
- the same with `--proof-url` on the local PostgreSQL server (a scratch database
  created and dropped per run), against `psql` running the same SQL in a fresh
  database of its own.
Prints a Markdown table of medians and ratios.

Usage: bench/import.py [N] [PAIRS]   (defaults 300 and 3)
"""
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = "postgres://postgres@127.0.0.1:5432"


def generate(n, folder):
    """N migrations; returns the ups and downs in order."""
    folder.mkdir(parents=True)
    pairs = []
    for i in range(1, n + 1):
        table = f"t_{(i - 1) // 3}"
        match i % 3:
            case 1:
                up = f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT NOT NULL DEFAULT '');\n"
                down = f"DROP TABLE {table};\n"
            case 2:
                up = f"ALTER TABLE {table} ADD COLUMN c_{i} INTEGER;\n"
                # One down in ten forgets its column (it writes rows: a down that only
                # SELECTs would be imported as no down at all).
                down = (
                    f"UPDATE {table} SET name = name;\n"
                    if i % 10 == 2
                    else f"ALTER TABLE {table} DROP COLUMN c_{i};\n"
                )
            case _:
                up = f"CREATE INDEX ix_{i} ON {table} (name);\n"
                down = f"DROP INDEX ix_{i};\n"
        (folder / f"{i}_m{i}.up.sql").write_text(up)
        (folder / f"{i}_m{i}.down.sql").write_text(down)
        pairs.append((up, down))
    return pairs


def timed(command, **kwargs):
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - start


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    pairs_count = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    subprocess.run(["cargo", "build", "-q", "--release", "--bin", "semigrate"], cwd=ROOT, check=True)
    binary = ROOT / "target" / "release" / "semigrate"
    work = Path(tempfile.mkdtemp())
    try:
        source = work / "golang"
        pairs = generate(n, source)
        # What the proof runs at least once: each up, then its down and its up again
        # (after a flawed down, the proof restores the up's state from a copy instead).
        script = "".join(f"{up}{down}{'' if down.startswith('UPDATE') else up}" for up, down in pairs)
        (work / "replay.sql").write_text(script)

        def import_run(extra):
            into = work / "into"
            shutil.rmtree(into, ignore_errors=True)
            into.mkdir()
            return timed([binary, "import", "--from", "golang-migrate", str(source), "--dir",
                          str(into), "--first", "0.1.0", "--acknowledge", *extra])

        def psql_run():
            subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-c",
                            "DROP DATABASE IF EXISTS bench_import", "-c",
                            "CREATE DATABASE bench_import TEMPLATE template0"],
                           check=True, capture_output=True)
            return timed(["psql", "-q", "-v", "ON_ERROR_STOP=1", f"{SERVER}/bench_import",
                          "-f", str(work / "replay.sql")])

        rows = []
        for name, ours, bound in [
            ("import --acknowledge, proof on SQLite",
             lambda: import_run([]),
             lambda: timed(["sqlite3", ":memory:"], input=script.encode())),
            ("import --acknowledge --proof-url, proof on PostgreSQL",
             lambda: import_run(["--proof-url", f"{SERVER}/postgres"]),
             psql_run),
        ]:
            a, b = [], []
            for _ in range(pairs_count):
                a.append(ours())
                b.append(bound())
            ma, mb = statistics.median(a), statistics.median(b)
            rows.append((name, ma, mb, ma / mb))
        specs = len(list((work / "into").glob("*.toml")))
        acknowledged = sum("down_leaves" in p.read_text() for p in (work / "into").glob("*.toml"))
        print(f"{n} migrations imported into {specs} specs, {acknowledged} with down_leaves\n")
        print("| figure | semigrate | lower bound | ratio |")
        print("|---|---|---|---|")
        for name, ma, mb, ratio in rows:
            print(f"| {name} | {ma:.3f} s | {mb:.3f} s | {ratio:.2f}x |")
    finally:
        subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-c",
                        "DROP DATABASE IF EXISTS bench_import"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
