"""Command line: ``python -m cloudbackup demo`` and ``python -m cloudbackup --version``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from ._version import version

__all__ = ["main"]

# What a shell reports for a process that a closed pipe ended (128 + SIGPIPE), as ``yes | head``
# does; 1 where the platform has no SIGPIPE.
_BROKEN_PIPE_STATUS = 128 + signal.SIGPIPE if hasattr(signal, "SIGPIPE") else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cloudbackup`` command; returns the exit status.

    A parameter the world refuses (``--seed`` beyond 64 bits) is reported in one line on
    standard error with exit status 2, as argparse reports a malformed one.

    When the reader of standard output goes away (``cloudbackup demo | head -1``) the command
    stops quietly, without a traceback, and returns 128 + SIGPIPE like other command-line tools.
    """
    parser = argparse.ArgumentParser(
        prog="cloudbackup",
        description="An executable model of Alibaba Cloud Backup's ECS instance backup.",
    )
    parser.add_argument("--version", action="version", version=f"cloudbackup {version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="tell the backup-and-rollback story, step by step")
    demo.add_argument("--seed", type=int, default=0, help="the world's seed (default 0)")
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            from ._demo import run_demo
            from .errors import InvalidParameterError

            try:
                status = 0 if run_demo(seed=args.seed) else 1
            except InvalidParameterError as exc:  # a seed the world refuses, say
                print(f"cloudbackup demo: error: {exc.message}", file=sys.stderr)
                return 2
        else:  # pragma: no cover - argparse rejects unknown commands
            status = 2
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's final flush
    except BrokenPipeError:
        # Point stdout at the null device so the interpreter's last flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return _BROKEN_PIPE_STATUS
    return status


if __name__ == "__main__":
    sys.exit(main())
