#!/usr/bin/env bash
# Runs every check CI runs: formatting, lints, and the whole test suite
# (unit tests plus integration tests against real redis-server processes).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --tests
# The nutcracker differential test must run, not skip, wherever this runs.
export SLOTWAY_REQUIRE_NUTCRACKER=1
export SLOTWAY_REQUIRE_CHROMIUM=1
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
