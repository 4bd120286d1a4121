"""What the five commands share: the logging flags, the help formatter, plain help text.

Every command takes ``--log-level LEVEL`` with the shorthands ``-v`` (``DEBUG``) and ``-q``
(``ERROR``); :func:`add_logging_args` adds them and :func:`apply_logging` applies them. The help
formatter prints a default only where one exists (never "(default: None)") and keeps
descriptions and examples as written.
"""

from __future__ import annotations

import argparse
import re

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and epilogs as written; ``(default: X)`` only for a real, unstated default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default in (None, False, "", argparse.SUPPRESS)
            or action.option_strings == []
            or isinstance(action, argparse._HelpAction)
        ):
            return text
        return f"{text} (default: %(default)s)"


def plain(text: str) -> str:
    """Docstring text for ``--help``: reStructuredText roles and literals become plain words."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", text)
    return text.replace("``", "").replace("`", "")


def parser(prog: str, description: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """An ``ArgumentParser`` with the shared formatter and plain text."""
    description = plain(description)
    return argparse.ArgumentParser(
        prog=prog,
        description=description[:1].upper() + description[1:],
        epilog=plain(epilog) if epilog else None,
        formatter_class=HelpFormatter,
    )


def add_logging_args(p: argparse.ArgumentParser, default: str = "WARNING") -> None:
    """``--log-level LEVEL`` and its shorthands ``-v`` / ``-q`` (the last one given wins)."""
    g = p.add_argument_group("logging")
    g.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default=default,
        metavar="LEVEL",
        help=f"package log level: {', '.join(LOG_LEVELS)} (default: {default})",
    )
    g.add_argument(
        "-v",
        "--verbose",
        dest="log_level",
        action="store_const",
        const="DEBUG",
        help="same as --log-level DEBUG",
    )
    g.add_argument(
        "-q",
        "--quiet",
        dest="log_level",
        action="store_const",
        const="ERROR",
        help="same as --log-level ERROR",
    )


def apply_logging(args: argparse.Namespace) -> None:
    """Set the package log level from :func:`add_logging_args`' flags."""
    from cmt_live._logging import set_log_level

    set_log_level(args.log_level)
