#!/usr/bin/env bash
# First benchmark: redis-benchmark (-t set,get -c 50 -r 100000, -P 1 and -P 16)
# through Slotway and directly against a local 3-master cluster (--cluster),
# printing req/s and CPU µs per request of the proxy and of the redis-servers
# (utime+stime from /proc). Extra arguments go to slotway-bench (--help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --quiet -p slotway -p slotway-bench
exec target/release/slotway-bench "$@"
