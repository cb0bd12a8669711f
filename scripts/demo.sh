#!/usr/bin/env bash
# Runs the embedded default: a local 3-master/3-replica Redis Cluster and
# Slotway in front of it on 127.0.0.1:7777. Ctrl-C stops and removes both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
exec cargo run --release --quiet -p slotway -- demo "$@"
