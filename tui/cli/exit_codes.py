"""The command line's exit codes, documented in the README and ``--help``."""

from __future__ import annotations

import signal

EXIT_OK = 0  # the run completed (or the command did what it was asked)
EXIT_FAILED = 1  # a run that did not complete, or an internal error
EXIT_USAGE = 2  # bad input: unknown id, bad setting or file, unreachable server, missing key
EXIT_INTERRUPTED = 130  # Ctrl+C
EXIT_PIPE_CLOSED = 141  # the reader of stdout went away (`| head`): 128 + SIGPIPE, quietly
EXIT_BY_SIGNAL = {signal.SIGINT: EXIT_INTERRUPTED, signal.SIGTERM: 143}
