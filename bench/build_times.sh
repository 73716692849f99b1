#!/usr/bin/env bash
# Build times of a checkout (default: this one), each in a fresh target folder:
# the example crate's clean build, its incremental rebuilds after a spec's comment, a
# spec's meaning (its description) and src/main.rs changed, the clean build of a crate that depends on the library
# with a chain of its own (examples/embedded; from 2026-12-03 on, the Migrator alone,
# without the CLI's crates), and the clean build of a chain crate as `init` writes it. Run it on an older checkout too
# (`git worktree add /tmp/old REV`) to compare.
# Usage: bench/build_times.sh [CHECKOUT]
set -euo pipefail
checkout=$(cd "${1:-$(dirname "$0")/..}" && pwd)
target=$(mktemp -d)
trap 'rm -rf "$target"; git -C "$checkout" checkout -q -- migrations src/main.rs' EXIT
export CARGO_TARGET_DIR="$target/t"
seconds() { local s=$EPOCHREALTIME; "$@" > /dev/null 2>&1; awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $s }"; }
cd "$checkout"
spec=$(ls migrations/*.toml | tail -1)
echo "checkout: $checkout ($(git rev-parse --short HEAD))"
echo "clean build of the example crate:       $(seconds cargo build) s"
echo "# a comment" >> "$spec"
echo "rebuild after a spec's comment changed: $(seconds cargo build) s"
sed -i '0,/^description = "/s//description = "Edited: /' "$spec"
echo "rebuild after a spec's meaning changed: $(seconds cargo build) s"
echo "// a comment" >> src/main.rs
echo "rebuild after src/main.rs changed:      $(seconds cargo build) s"
export CARGO_TARGET_DIR="$target/e"
echo "clean build of examples/embedded:       $(seconds cargo build --manifest-path examples/embedded/Cargo.toml) s"
shop="$target/shop"
CARGO_TARGET_DIR="$target/t" cargo run -q --manifest-path "$checkout/Cargo.toml" -- init "$shop" --path "$checkout" > /dev/null
export CARGO_TARGET_DIR="$target/i"
echo "clean build of an init'ed chain crate:  $(seconds cargo build --manifest-path "$shop/Cargo.toml") s"
