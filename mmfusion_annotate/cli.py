"""The ``mmfusion`` command: parses arguments, calls the packages, prints results.

argparse (stdlib) rather than typer/click: no extra dependency on the car, sub-commands with their own
``--help`` and epilog examples, and exit codes under our control. Each sub-command imports its package
lazily so ``mmfusion --help`` stays instant. Errors a user can cause (``MmfusionError``) print as one line
and exit 2; a bad command line exits 2 too (argparse's convention); success is 0; a command that found
problems (e.g. ``bag recover`` that lost data) exits 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from mmfusion_annotate.errors import MmfusionError

Command = Callable[[argparse.Namespace], int]
_COMMANDS: list[tuple[str, str, str, Callable[[argparse.ArgumentParser], None], str]] = []


def command(name: str, help_text: str, epilog: str = "") -> Callable[[Callable], Callable]:
    """Register ``func(parser)`` as the argument builder of sub-command ``name``; the handler is
    ``module:function`` set by the builder through ``parser.set_defaults(handler=...)``."""

    def register(builder: Callable[[argparse.ArgumentParser], None]) -> Callable:
        _COMMANDS.append((name, help_text, epilog, builder, builder.__doc__ or help_text))
        return builder

    return register


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmfusion",
        description="Multimodal fusion, cross-modal pre-labels, event tags and MCAP bags for AV test cars.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'mmfusion COMMAND --help' for the options and examples of each command.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    from mmfusion_annotate import cli_commands  # noqa: F401, PLC0415 - registers the sub-commands

    for name, help_text, epilog, builder, doc in _COMMANDS:
        p = sub.add_parser(
            name,
            help=help_text,
            description=doc,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        builder(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handler: Command = args.handler
    try:
        return int(handler(args) or 0)
    except MmfusionError as exc:
        print(f"mmfusion {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mmfusion {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
