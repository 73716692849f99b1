#!/usr/bin/env bash
# Build-time figures for a 1,000-migration chain: the replay inside build.rs (timed by
# build.rs itself with SEMIGRATE_BUILD_TIMING=1), the whole build, and an incremental
# build after adding one spec. Usage: bench/replay.sh [N] (default 1000).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/gen_chain.py "$n" "$work/migrations"
export CARGO_TARGET_DIR=target/bench SEMIGRATE_MIGRATIONS_DIR="$work/migrations" SEMIGRATE_BUILD_TIMING=1
cargo build -q --release 2>/dev/null || true   # dependencies, outside the timings

ms() { date +%s%N | cut -c1-13; }
touch "$work/migrations"
t0=$(ms)
replay=$(cargo build --release 2>&1 | grep -o 'proved [0-9]* migrations.* in [0-9.]* s')
t1=$(ms)
python3 - "$n" "$work/migrations" <<'PY'
import pathlib, sys
n, folder = int(sys.argv[1]), pathlib.Path(sys.argv[2])
i = n + 1
(folder / f"v0_0_{i}.toml").write_text(
    f'description = "Create t_{i}"\n[[up]]\nsql = "CREATE TABLE t_{i} (id INTEGER);"\n[[down]]\nsql = "DROP TABLE t_{i};"\n')
PY
t2=$(ms)
cargo build -q --release 2>/dev/null
t3=$(ms)
echo "$replay"
echo "build after touching the chain of $n: $(( t1 - t0 )) ms"
echo "incremental build after adding spec $((n + 1)): $(( t3 - t2 )) ms"
