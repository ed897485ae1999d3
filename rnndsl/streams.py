"""streams: what a command does with the process's standard streams and file descriptors.

`native_logs_hidden` drops what TensorFlow's C++ runtime writes to file descriptor 2 while a
command that loads TensorFlow runs; `discard_stdout` points standard output at the null device
once its reader has gone (a closed pipe), so that nothing more fails to be written.
"""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["native_logs_hidden", "discard_stdout"]


def discard_stdout() -> None:
    """Standard output to the null device, after its reader closed it early (`rnndsl check --explain
    ... | head`): so that the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # a stream in memory (a test's capture)
        pass


@contextlib.contextmanager
def native_logs_hidden():
    """Drop what TensorFlow's C++ runtime writes to file descriptor 2 while a command runs.

    It logs there (CUDA probing, CPU features) before its logging is set up, where
    TF_CPP_MIN_LOG_LEVEL does not reach. Python's own stderr (our diagnostics, warnings)
    moves to a copy of the real descriptor and still shows. RNNDSL_DEBUG=1 keeps everything."""
    if os.environ.get("RNNDSL_DEBUG"):
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    try:
        python_on_fd2 = sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):  # a stream in memory (a test's capture)
        python_on_fd2 = False
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    python_stderr = sys.stderr
    if python_on_fd2:
        sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding=python_stderr.encoding,
                               errors=python_stderr.errors)
    try:
        yield
    finally:
        if python_on_fd2:
            sys.stderr.close()
            sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)

