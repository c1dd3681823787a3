"""A SIGTERM or Ctrl-C that lands inside a weakref callback (an import's module-lock callback, found by the
crash campaign, seed 205) is not swallowed with an "Exception ignored" traceback: it stops the command."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import ROOT

PROGRAM = textwrap.dedent('''
    import os, signal, sys, time, weakref
    from monitor.cli import Terminated, _on_sigterm
    from monitor.stopsignals import redeliver_swallowed_stops
    if sys.argv[1] == "SIGTERM":
        signal.signal(signal.SIGTERM, _on_sigterm)
    redeliver_swallowed_stops()

    class Thing:
        pass

    def callback(ref):
        os.kill(os.getpid(), getattr(signal, sys.argv[1]))
        for _ in range(1000):  # the handler runs here, inside the callback, where a raise is ignored
            pass
        {extra}

    thing = Thing()
    ref = weakref.ref(thing, callback)
    try:
        del thing
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # the command's work goes on
            pass
        print("carried on")
    except Terminated:
        print("terminated")
    except KeyboardInterrupt:
        print("interrupted")
''')


def run(signame: str, extra: str = "pass") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROGRAM.replace("{extra}", extra), signame], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_sigterm_inside_a_weakref_callback_stops_the_command_without_a_traceback():
    done = run("SIGTERM")
    assert (done.stdout, done.stderr) == ("terminated\n", "")


def test_ctrl_c_inside_a_weakref_callback_interrupts_the_command_without_a_traceback():
    done = run("SIGINT")
    assert (done.stdout, done.stderr) == ("interrupted\n", "")


def test_other_errors_in_callbacks_are_still_reported():
    done = subprocess.run([sys.executable, "-c", textwrap.dedent('''
        import weakref
        from monitor.stopsignals import redeliver_swallowed_stops
        redeliver_swallowed_stops()
        class Thing: pass
        def callback(ref): raise ValueError("broken callback")
        thing = Thing(); ref = weakref.ref(thing, callback); del thing
        print("carried on")
    ''')], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout == "carried on\n"
    assert "Exception ignored" in done.stderr and "ValueError: broken callback" in done.stderr
