"""Command line: ``python -m cloudbackup demo``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cloudbackup`` command; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="cloudbackup",
        description="An executable model of Alibaba Cloud Backup's ECS instance backup.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="tell the backup-and-rollback story, step by step")
    demo.add_argument("--seed", type=int, default=0, help="the world's seed (default 0)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from ._demo import run_demo

        return 0 if run_demo(seed=args.seed) else 1
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":
    sys.exit(main())
