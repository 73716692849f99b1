#!/usr/bin/env bash
# The CSV transform on a large file against its peers and bounds, in alternating runs
# on the same file: `cat`, a durable copy (`dd conv=fsync`), `xsv select` and
# `qsvlite select` of every column; semigrate on all cores and on one thread (the
# scaling); then CSV validations alone, on all cores and on one; with wall and CPU
# time and peak RSS of each.
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

# The peers: xsv and qsv rewriting the file through their parser (`select` of every
# column), installed once into target/bench-tools. qsv is tried once; it does not
# always build.
tools=target/bench-tools
[ -x "$tools/bin/xsv" ] || cargo install -q --locked xsv --root "$tools"
xsv=$tools/bin/xsv
if [ ! -x "$tools/bin/qsvlite" ] && [ ! -e "$tools/qsv-failed" ]; then
  cargo install -q --locked qsv --no-default-features --features lite --root "$tools" > "$tools/qsv-build.log" 2>&1 \
    || touch "$tools/qsv-failed"
fi
qsv=$tools/bin/qsvlite
[ -x "$qsv" ] || qsv=

# Each run's wall seconds (to the millisecond), and its CPU seconds and peak RSS (KiB)
# from /usr/bin/time.
measure() {
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f '%U %S %M' -o "$work/time" "$@" > /dev/null
  t1=$(date +%s%N)
  echo "$(echo "scale=3; ($t1 - $t0) / 1000000000" | bc) $(cat "$work/time")"
}
wall() { echo "$1" | awk '{print $1}'; }
cpu() { echo "$1" | awk '{printf "%.2f", $2 + $3}'; }
rss() { echo "$1" | awk '{print $4}'; }
# The transform alone: the default backup of the data file is a second durable copy,
# timed on its own below.
run=("$bin" -q --no-backup --database "$work/store.db" --data-dir "$work/data")
backed=("$bin" -q --backup-dir "$work/backups" --database "$work/store.db" --data-dir "$work/data")
one=(env SEMIGRATE_CSV_THREADS=1 "${run[@]}")

declare -A w c r
add() { w[$1]+="$(wall "$2") "; c[$1]+="$(cpu "$2") "; r[$1]+="$(rss "$2") "; }
for _ in $(seq "$pairs"); do
  add cat "$(measure bash -c "cat '$work/data/accidents.csv' > '$work/copy.csv'")"
  rm -f "$work/copy.csv"
  # A durable copy, as semigrate's is: the same bytes, fsynced.
  add dd "$(measure dd if="$work/data/accidents.csv" of="$work/copy.csv" bs=1M conv=fsync status=none)"
  rm -f "$work/copy.csv"
  add xsv "$(measure "$xsv" select 1-7 "$work/data/accidents.csv" -o "$work/copy.csv")"
  rm -f "$work/copy.csv"
  if [ -n "$qsv" ]; then
    add qsv "$(measure "$qsv" select 1-7 "$work/data/accidents.csv" -o "$work/copy.csv")"
    rm -f "$work/copy.csv"
  fi
  add up "$(measure "${run[@]}" upgrade)"
  add down "$(measure "${run[@]}" downgrade --version 0.0.0)"
  add up1 "$(measure "${one[@]}" upgrade)"
  add down1 "$(measure "${one[@]}" downgrade --version 0.0.0)"
  add backed "$(measure "${backed[@]}" upgrade)"
  "${run[@]}" downgrade --version 0.0.0
  rm -rf "$work/backups"
done
median() { printf '%s\n' $@ | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
most() { printf '%s\n' $@ | sort -n | tail -1; }
m() { median "${w[$1]}"; }
ratio() { echo "scale=2; $1 / $2" | bc; }
row() { printf '%-28s %s s (median %s; CPU median %s s; peak RSS %s KiB)\n' "$1:" "${w[$2]}" "$(m "$2")" "$(median "${c[$2]}")" "$(most "${r[$2]}")"; }

echo "file: $rows rows, $size bytes; $pairs alternating runs of each; $(nproc) cores"
echo "xsv $("$xsv" --version)${qsv:+, $("$qsv" --version | head -1)}"
row cat cat
row "dd conv=fsync" dd
row "xsv select" xsv
[ -n "$qsv" ] && row "qsvlite select" qsv
row "upgrade" up
row "upgrade, 1 thread" up1
row "downgrade" down
row "downgrade, 1 thread" down1
row "upgrade with its backup" backed
echo "upgrade: $(ratio "$(m up)" "$(m xsv)")x xsv select${qsv:+, $(ratio "$(m up)" "$(m qsv)")x qsvlite select}, $(ratio "$(m up)" "$(m dd)")x dd fsync, $(ratio "$(m up)" "$(m cat)")x cat"
# The validations of one row at a time, alone: a second chain whose migration only
# checks the file (`verify` runs it on the file as it is), on all cores and on one.
mkdir -p "$work/checks"
cat > "$work/checks/v0_0_1__check.toml" <<'TOML'
description = "Check the file"
[[up]]
sql = "CREATE TABLE checked (at TEXT);"
[[down]]
sql = "DROP TABLE checked;"
[[validate]]
csv = "accidents.csv"
not_null = ["id", "date"]
values_in = { column = "severity", values = ["1", "2", "3", "4"] }
matches = { column = "commune", pattern = "[0-9]{5}" }
TOML
CARGO_TARGET_DIR=target/bench-checks SEMIGRATE_MIGRATIONS_DIR="$work/checks" cargo build -q --release
checks=(target/bench-checks/release/semigrate -q --no-backup --database "$work/checks.db" --data-dir "$work/data")
"${checks[@]}" upgrade
for _ in $(seq "$pairs"); do
  add verify "$(measure "${checks[@]}" verify)"
  add verify1 "$(measure env SEMIGRATE_CSV_THREADS=1 "${checks[@]}" verify)"
done
row "validations (verify)" verify
row "validations, 1 thread" verify1
echo "1 to 2 threads: upgrade $(ratio "$(m up1)" "$(m up)")x faster, downgrade $(ratio "$(m down1)" "$(m down)")x, validations $(ratio "$(m verify1)" "$(m verify)")x; CPU $(ratio "$(median "${c[up]}")" "$(median "${c[up1]}")")x the 1-thread upgrade's"
