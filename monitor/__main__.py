"""`policywatch` / `python -m monitor`: SIGTERM and Ctrl-C are handled from the first instant, before the
command line's imports (≈ 1 s), so an early stop exits 130 with one line instead of dying by the signal."""
from __future__ import annotations

import gc
import signal
import sys


class _StoppedEarly(BaseException):
    """SIGTERM before the command line was loaded."""
    stop_signal = signal.SIGTERM


def _stop_early(signum, frame) -> None:
    raise _StoppedEarly()


def entry() -> int:
    """The console script: install the early SIGTERM handler, load the CLI, run it."""
    signal.signal(signal.SIGTERM, _stop_early)
    try:
        from monitor.stopsignals import redeliver_swallowed_stops
        redeliver_swallowed_stops()
        # The command line's imports create ~100 k objects that live as long as the process: collecting
        # among them while they load is wasted work (≈ 5 % of start-up), and frozen they are not scanned again.
        gc.disable()
        try:
            from monitor.cli import main
        finally:
            gc.freeze()
            gc.enable()
        # main() handles signals once its command runs; until then (argparse set-up) they end up here.
        return main()
    except (_StoppedEarly, KeyboardInterrupt) as exc:
        stopped = isinstance(exc, _StoppedEarly) or type(exc).__name__ == "Terminated"
        print("policywatch: " + ("terminated" if stopped else "interrupted"), file=sys.stderr)
        return 130


# Guarded: worker processes (forkserver) import this module without running the CLI.
if __name__ == "__main__":
    raise SystemExit(entry())
