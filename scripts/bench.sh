#!/usr/bin/env bash
# The benchmark suite (docs/benchmarks.md): a 3-master cluster and 3
# standalone redis-servers; Slotway in cluster mode over the cluster,
# nutcracker (-v 4) and Slotway in pool mode (same YAML) over the standalone
# servers. redis-benchmark -c 50 -r 100000 (SET GET INCR LPUSH MSET at -d 64,
# SET GET at -d 4096; -P 1 and -P 16) against each and against the servers
# directly; CPU µs per request of every process (utime+stime from /proc),
# and syscalls per request of each proxy (strace -c); then RSS with 10,000
# idle clients, open-loop latency at 20,000 req/s, CPU per key of a 100-key
# MGET, and the floor (the single-key cases through slotway-floor, a minimal
# proxy, beside nutcracker and Slotway's pool). Prints Markdown.
# `--chart` (first argument) also writes docs/bench-cpu.svg. Other arguments
# go to slotway-bench (--help). About 8 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=()
if [[ "${1:-}" == "--chart" ]]; then
  shift
  extra=(--svg docs/bench-cpu.svg)
fi
scripts/deps.sh --bench
cargo build --release --quiet -p slotway -p slotway-bench
exec target/release/slotway-bench "${extra[@]}" "$@"
