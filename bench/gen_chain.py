#!/usr/bin/env python3
"""Writes a chain of N trivial migrations (v0_0_1 .. v0_0_N) into a folder.

Migration i creates table t_i, inserts one row (its id given, as PostgreSQL needs),
and drops the table on the way down:
the workload of the apply-1,000 benchmark. The chain is generated, never committed.
"""
import pathlib
import sys

SPEC = '''description = "Create t_{i}"

[[up]]
sql = "CREATE TABLE t_{i} (id INTEGER PRIMARY KEY, a TEXT, b REAL); INSERT INTO t_{i} (id, a, b) VALUES (1, 'x', 1.5);"

[[down]]
sql = "DROP TABLE t_{i};"
'''


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: gen_chain.py N DIR")
    count, folder = int(sys.argv[1]), pathlib.Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, count + 1):
        (folder / f"v0_0_{i}.toml").write_text(SPEC.format(i=i))


if __name__ == "__main__":
    main()
