#!/usr/bin/env bash
# Every benchmark, one after the other: the apply/status/revert figures against raw
# sqlite3 (bench/run.py), the build-time proof and incremental builds
# (bench/replay.sh), and the CSV transform and validations on about 1 GB against cat,
# dd, xsv and qsv (bench/csv.sh), and `import --acknowledge` of 300 migrations
# against the engines (bench/import.py). Copy the tables into BENCHMARKS.md.
# Usage: bench/run.sh [MIGRATIONS] [CSV_ROWS]   (defaults 1000 and 10000000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
rows=${2:-10000000}
echo "## apply, status, revert, startup and size"
python3 bench/run.py "$n" 5
echo
echo "## build-time proof and incremental build"
bench/replay.sh "$n"
echo
echo "## CSV transform and validations"
bench/csv.sh "$rows" 3
echo
echo "## import and proof of 300 migrations"
python3 bench/import.py 300 3
