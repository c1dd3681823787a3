"""A stop signal must never be swallowed. Python runs a signal handler at the next bytecode boundary of the
main thread; when that falls inside a weakref callback, a `__del__` or a gc callback (an import's module-lock
callback, for one), the exception the handler raises is printed as "Exception ignored in …" and dropped, and
the command carries on as if it had never been asked to stop. The hook below drops that print and delivers the
same signal again a moment later, from a timer thread: raised from the hook itself, the handler would run at
once, still inside the callback. Delivered later, it runs where the exception propagates (or, landing in a
callback again, is delivered again)."""
from __future__ import annotations

import signal
import sys
import threading

_installed = False
REDELIVERY_DELAY = 0.002  # seconds: long enough for the callback to return, short enough to be "at once"


def _signal_of(exc: BaseException | None) -> int | None:
    """The signal whose handler raised `exc`, or None for any other exception."""
    if isinstance(exc, KeyboardInterrupt) and type(exc) is KeyboardInterrupt:
        return signal.SIGINT  # Ctrl-C through Python's default handler
    if isinstance(exc, BaseException) and getattr(type(exc), "stop_signal", None) is not None:
        return type(exc).stop_signal
    return None


def redeliver_swallowed_stops() -> None:
    """Install (once) an unraisable hook that re-raises a stop signal whose exception was swallowed."""
    global _installed
    if _installed:
        return
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        signum = _signal_of(unraisable.exc_value)
        if signum is None:
            previous(unraisable)
            return
        # The current handler gets it: ours raises again, SIG_IGN (the work is stored) ignores it.
        timer = threading.Timer(REDELIVERY_DELAY, signal.raise_signal, (signum,))
        timer.daemon = True  # a command that ends first has nothing left to stop
        timer.start()

    sys.unraisablehook = hook
    _installed = True
