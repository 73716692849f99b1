#!/usr/bin/env bash
# The CSV transform on a large file against `cat file > out`, in alternating pairs,
# with peak RSS; and pandas doing the same change, when it is installed.
# Usage: bench/csv.sh [ROWS] (default 10000000, about 1 GB) [PAIRS] (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-10000000}
pairs=${2:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/migrations" "$work/data"

cat > "$work/migrations/v0_0_1__label.toml" <<'TOML'
description = "Label severities, rename the column, add a place key"

[[up]]
csv = "accidents.csv"
columns = ["id", "date", "commune", "severity", "lat", "lon", "text"]
[[up.ops]]
op = "map"
column = "severity"
values = { "1" = "indemne", "2" = "tue", "3" = "blesse_hospitalise", "4" = "blesse_leger" }
[[up.ops]]
op = "rename"
from = "severity"
to = "gravite"
[[up.ops]]
op = "add"
column = "lieu"
template = "{commune}-{date}"
TOML

python3 bench/gen_csv.py "$rows" "$work/data/accidents.csv"
size=$(stat -c %s "$work/data/accidents.csv")
CARGO_TARGET_DIR=target/bench SEMIGRATE_MIGRATIONS_DIR="$work/migrations" cargo build -q --release
bin=target/bench/release/semigrate
# The transform alone: the default backup of the data file is a second durable copy,
# timed on its own below.
run() { "$bin" -q --no-backup --database "$work/store.db" --data-dir "$work/data" "$@"; }
backed() { "$bin" -q --backup-dir "$work/backups" --database "$work/store.db" --data-dir "$work/data" "$@"; }

secs() { local t0 t1; t0=$(date +%s%N); "$@"; t1=$(date +%s%N); echo "scale=3; ($t1 - $t0) / 1000000000" | bc; }
cat_times=(); dd_times=(); up_times=(); down_times=(); backed_times=()
for _ in $(seq "$pairs"); do
  cat_times+=("$(secs bash -c "cat '$work/data/accidents.csv' > '$work/copy.csv'")")
  rm -f "$work/copy.csv"
  # A durable copy, as semigrate's is: the same bytes, fsynced.
  dd_times+=("$(secs dd if="$work/data/accidents.csv" of="$work/copy.csv" bs=1M conv=fsync status=none)")
  rm -f "$work/copy.csv"
  up_times+=("$(secs run upgrade)")
  down_times+=("$(secs run downgrade --version 0.0.0)")
  backed_times+=("$(secs backed upgrade)")
  run downgrade --version 0.0.0
  rm -rf "$work/backups"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mc=$(median "${cat_times[@]}"); mdd=$(median "${dd_times[@]}"); mu=$(median "${up_times[@]}"); md=$(median "${down_times[@]}"); mb=$(median "${backed_times[@]}")
rss=$( { /usr/bin/time -f %M "$bin" -q --no-backup --database "$work/store.db" --data-dir "$work/data" upgrade; } 2>&1 | tail -1)
run downgrade --version 0.0.0

echo "file: $rows rows, $size bytes"
echo "cat:       ${cat_times[*]} s (median $mc)"
echo "dd fsync:  ${dd_times[*]} s (median $mdd)"
echo "upgrade:   ${up_times[*]} s (median $mu, $(echo "scale=2; $mu / $mc" | bc)x cat, $(echo "scale=2; $mu / $mdd" | bc)x dd fsync)"
echo "downgrade: ${down_times[*]} s (median $md, $(echo "scale=2; $md / $mc" | bc)x cat)"
echo "upgrade with its backup: ${backed_times[*]} s (median $mb, $(echo "scale=2; $mb / $mc" | bc)x cat, $(echo "scale=2; $mb / $mdd" | bc)x dd fsync)"
echo "peak RSS of the upgrade: $rss KiB"
if python3 -c 'import pandas' 2>/dev/null; then
  pt=$(secs python3 - "$work/data/accidents.csv" "$work/pandas.csv" <<'PY'
import sys, pandas as pd
df = pd.read_csv(sys.argv[1], dtype=str, keep_default_na=False)
df["severity"] = df["severity"].map({"1": "indemne", "2": "tue", "3": "blesse_hospitalise", "4": "blesse_leger"})
df = df.rename(columns={"severity": "gravite"})
df["lieu"] = df["commune"] + "-" + df["date"]
df.to_csv(sys.argv[2], index=False)
PY
)
  echo "pandas:    $pt s ($(echo "scale=1; $pt / $mu" | bc)x semigrate's upgrade)"
else
  echo "pandas:    not installed"
fi
