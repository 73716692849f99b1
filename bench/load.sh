#!/usr/bin/env bash
# `load` and `export` against the engines' own bulk tools, in alternating pairs on the
# same file: SQLite's `.import` and `sqlite3 -csv`, PostgreSQL's `\copy` from and to;
# with the peak RSS of semigrate's runs. The bounds commit as durably as semigrate does
# (SQLite: synchronous = EXTRA).
# Usage: bench/load.sh [ROWS] (default 10000000, about 1 GB) [PAIRS] (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-10000000}
pairs=${2:-3}
pg=postgres://postgres@127.0.0.1:5432
work=$(mktemp -d)
trap 'rm -rf "$work"; psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS semigrate_load_a" -c "DROP DATABASE IF EXISTS semigrate_load_b" > /dev/null 2>&1 || true' EXIT
mkdir -p "$work/migrations" "$work/data"
table="CREATE TABLE t (id TEXT, date TEXT, commune TEXT, severity TEXT, lat TEXT, lon TEXT, text TEXT);"
cat > "$work/migrations/v0_0_1__load.toml" <<TOML
description = "Load the file"
[[up]]
sql = "$table"
[[up]]
load = "accidents.csv"
table = "t"
[[down]]
sql = "DROP TABLE t;"
TOML
cat > "$work/migrations/v0_0_2__export.toml" <<'TOML'
description = "Export the table"
[[up]]
export = "out.csv"
table = "t"
TOML
python3 bench/gen_csv.py "$rows" "$work/data/accidents.csv"
size=$(stat -c %s "$work/data/accidents.csv")
CARGO_TARGET_DIR=target/bench SEMIGRATE_MIGRATIONS_DIR="$work/migrations" cargo build -q --release 2> /dev/null
bin=target/bench/release/semigrate
# Each store has a data folder of its own (a folder names the store it belongs to);
# the PostgreSQL one reads the same file through a hard link.
mkdir -p "$work/pgdata"
ln "$work/data/accidents.csv" "$work/pgdata/accidents.csv"
run() { "$bin" -q --no-backup --database "$1" --data-dir "$work/data" "${@:2}"; }
run_pg() { "$bin" -q --no-backup --database "$1" --data-dir "$work/pgdata" "${@:2}"; }
# A run that fails stops the script: its time would be that of an error.
secs() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" > /dev/null || { echo "failed: $*" >&2; exit 1; }
  t1=$(date +%s%N)
  echo "scale=3; ($t1 - $t0) / 1000000000" | bc
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { echo "scale=2; $1 / $2" | bc; }
fresh_pg() { psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" > /dev/null; }

load=(); import=(); export=(); dump=(); pg_load=(); pg_copy=(); pg_export=(); pg_dump_=()
for _ in $(seq "$pairs"); do
  rm -f "$work/a.db" "$work/b.db" "$work/data/out.csv"
  load+=("$(secs run "$work/a.db" upgrade --version 0.0.1)")
  sqlite3 "$work/b.db" "$table"
  import+=("$(secs sqlite3 "$work/b.db" "PRAGMA synchronous = EXTRA;" ".import --csv --skip 1 '$work/data/accidents.csv' t")")
  export+=("$(secs run "$work/a.db" upgrade --version 0.0.2)")
  dump+=("$(secs bash -c "sqlite3 -csv -header '$work/b.db' 'SELECT * FROM t' > '$work/b.csv' && sync -d '$work/b.csv'")")
  fresh_pg semigrate_load_a; fresh_pg semigrate_load_b
  rm -f "$work/pgdata/out.csv"
  pg_load+=("$(secs run_pg "$pg/semigrate_load_a" upgrade --version 0.0.1)")
  psql -q "$pg/semigrate_load_b" -c "$table" > /dev/null
  pg_copy+=("$(secs psql -q "$pg/semigrate_load_b" -c "\\copy t FROM '$work/data/accidents.csv' (FORMAT csv, HEADER)")")
  pg_export+=("$(secs run_pg "$pg/semigrate_load_a" upgrade --version 0.0.2)")
  pg_dump_+=("$(secs bash -c "psql -q '$pg/semigrate_load_b' -c \"\\copy t TO '$work/b.csv' (FORMAT csv, HEADER)\" && sync -d '$work/b.csv'")")
done
rm -f "$work/a.db" "$work/data/out.csv"
rss_load=$( { /usr/bin/time -f %M "$bin" -q --no-backup --database "$work/a.db" --data-dir "$work/data" upgrade --version 0.0.1; } 2>&1 | tail -1)
rss_export=$( { /usr/bin/time -f %M "$bin" -q --no-backup --database "$work/a.db" --data-dir "$work/data" upgrade --version 0.0.2; } 2>&1 | tail -1)

ml=$(median "${load[@]}"); mi=$(median "${import[@]}"); me=$(median "${export[@]}"); md=$(median "${dump[@]}")
mpl=$(median "${pg_load[@]}"); mpc=$(median "${pg_copy[@]}"); mpe=$(median "${pg_export[@]}"); mpd=$(median "${pg_dump_[@]}")
echo "file: $rows rows, $size bytes"
echo "| figure | semigrate | bound | ratio |"
echo "|---|---|---|---|"
echo "| load into SQLite, against \`.import\` | ${load[*]} s (median $ml) | ${import[*]} s (median $mi) | $(ratio "$ml" "$mi")× |"
echo "| load into PostgreSQL, against \`\\copy … FROM\` | ${pg_load[*]} s (median $mpl) | ${pg_copy[*]} s (median $mpc) | $(ratio "$mpl" "$mpc")× |"
echo "| export from SQLite, against \`sqlite3 -csv\` and \`sync\` | ${export[*]} s (median $me) | ${dump[*]} s (median $md) | $(ratio "$me" "$md")× |"
echo "| export from PostgreSQL, against \`\\copy … TO\` and \`sync\` | ${pg_export[*]} s (median $mpe) | ${pg_dump_[*]} s (median $mpd) | $(ratio "$mpe" "$mpd")× |"
echo "| peak RSS: load, export (SQLite) | $rss_load KiB, $rss_export KiB | | |"
