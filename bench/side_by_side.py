#!/usr/bin/env python3
"""Two builds of the same chain, side by side: apply, apply --atomic and status --json.

For a change that may cost time, against the commit before it: build both from the same
generated chain, then compare them in alternating runs (A B A B ...), each on a fresh
store, `status --json` five times on each store.

    python3 bench/gen_chain.py 1000 /tmp/chain
    git worktree add /tmp/before COMMIT
    (cd /tmp/before && CARGO_TARGET_DIR=/tmp/before-target \\
        SEMIGRATE_MIGRATIONS_DIR=/tmp/chain cargo build -q --release)
    CARGO_TARGET_DIR=target/bench SEMIGRATE_MIGRATIONS_DIR=/tmp/chain cargo build -q --release
    python3 bench/side_by_side.py /tmp/before-target/release/semigrate target/bench/release/semigrate

Usage: bench/side_by_side.py BEFORE AFTER [PAIRS]   (default 5 pairs)
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time


def once(binary: str, atomic: bool) -> tuple[float, float]:
    """Applies the chain to a fresh store; returns its time and status's median."""
    with tempfile.TemporaryDirectory() as work:
        db = f"{work}/store.db"
        args = [binary, "-q", "--no-backup", "--database", db, "upgrade"]
        start = time.perf_counter()
        subprocess.run(args + (["--atomic"] if atomic else []), check=True,
                       stdout=subprocess.DEVNULL, cwd=work)
        applied = time.perf_counter() - start
        status = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([binary, "--database", db, "--json", "status"], check=True,
                           stdout=subprocess.DEVNULL, cwd=work)
            status.append(time.perf_counter() - start)
        return applied, statistics.median(status)


def main() -> None:
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    before, after = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    pairs = int(sys.argv[3]) if len(sys.argv) == 4 else 5
    for atomic in (False, True):
        runs = {before: [], after: []}
        for _ in range(pairs):
            for binary in (before, after):
                runs[binary].append(once(binary, atomic))
        what = "apply --atomic" if atomic else "apply"
        for name, binary in (("before", before), ("after", after)):
            apply = statistics.median(r[0] for r in runs[binary])
            status = statistics.median(r[1] for r in runs[binary])
            print(f"{what:15} {name:6} {apply:.3f} s, status --json {status * 1000:.1f} ms")


if __name__ == "__main__":
    main()
