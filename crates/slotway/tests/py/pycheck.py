"""What the redis-py test scripts share: the import guard (exit 3 when
redis-py is missing, which the Rust tests turn into "pip install redis"),
the check helpers, and the runner (failures print and exit 1, success
prints "ok" last)."""

import sys
import traceback

try:
    import redis  # noqa: F401  (re-exported for the scripts)
except ImportError as e:
    print(f"cannot import redis-py ({e}): pip install redis", file=sys.stderr)
    sys.exit(3)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def eq(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")


def run(main):
    """Runs `main`: any failure is printed and exits 1."""
    try:
        main()
    except Exception:
        traceback.print_exc()
        sys.exit(1)
