#!/usr/bin/env bash
# Installs what Slotway's build, demo and tests need, when missing: make and
# a C compiler (jemalloc is built from C), redis-server, redis-cli and
# redis-benchmark (redis-tools); for the tests, redis-py 8 (a plain client
# library the tests drive the proxy with), nutcracker (twemproxy, the oracle
# of the key-placement tests) and chromium (the dashboard's browser test);
# for the benchmark, nutcracker (compared against) and strace (syscall counts).
# Usage: scripts/deps.sh [--tests|--bench]
set -euo pipefail

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "deps: need root (or sudo) to run: $*" >&2; exit 1; fi
}

missing=()
# The build: jemalloc (the proxy's allocator) is compiled from C by its crate,
# with make and the C compiler the Rust toolchain links with.
command -v make >/dev/null || missing+=(make)
command -v cc >/dev/null || missing+=(gcc)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v redis-benchmark >/dev/null || missing+=(redis-tools)
if [ "${1:-}" = "--tests" ]; then
    command -v python3 >/dev/null || missing+=(python3 python3-pip)
    # twemproxy itself: the oracle of the key-placement differential tests.
    command -v nutcracker >/dev/null || [ -x /usr/sbin/nutcracker ] || missing+=(nutcracker)
    # A real browser for the dashboard test (driven headless from the command line).
    command -v chromium >/dev/null || missing+=(chromium)
fi
if [ "${1:-}" = "--bench" ]; then
    command -v nutcracker >/dev/null || [ -x /usr/sbin/nutcracker ] || missing+=(nutcracker)
    command -v strace >/dev/null || missing+=(strace)
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ "${1:-}" = "--tests" ]; then
    if ! python3 -c 'import redis, sys; sys.exit(0 if redis.__version__.startswith("8.") else 1)' 2>/dev/null; then
        echo "deps: installing redis-py 8 (pip)" >&2
        python3 -m pip install --quiet 'redis>=8,<9' 2>/dev/null \
            || python3 -m pip install --quiet --break-system-packages 'redis>=8,<9' \
            || { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null \
                 && python3 -m pip install --quiet --break-system-packages 'redis>=8,<9'; }
    fi
fi
