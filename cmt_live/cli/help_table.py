"""The README's command table, generated from the five commands' parsers (what ``--help`` prints).

``python -m cmt_live.cli.help_table`` prints the table; ``--write README.md`` replaces the part
between the ``<!-- commands:start -->`` and ``<!-- commands:end -->`` lines.
``tests/test_cli_help.py`` fails when the README and the parsers diverge.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

START, END = "<!-- commands:start -->", "<!-- commands:end -->"


def parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    """``(command line, parser)`` of every command and sub-command, in README order."""
    from cmt_live.cli import dataset, live, replay, sim, train

    sim_parser = sim.build_parser()
    subs = next(a for a in sim_parser._actions if isinstance(a, argparse._SubParsersAction))
    return [
        ("cmt-live", live.build_parser()),
        ("cmt-replay", replay.build_parser()),
        *((f"cmt-sim {name}", subs.choices[name]) for name in ("stream", "record", "dataset")),
        ("cmt-dataset", dataset.build_parser()),
        ("cmt-train", train._train_parser()),
        ("cmt-train evaluate", train._eval_parser()),
    ]


def option_text(action: argparse.Action) -> str:
    """``--name METAVAR`` (or the positional's metavar) as the usage line writes it."""
    if not action.option_strings:
        return action.metavar or action.dest
    name = max(action.option_strings, key=len)
    if action.nargs == 0:
        return name
    metavar = action.metavar or action.dest.upper()
    return f"{name} [{metavar}]" if action.nargs == "?" else f"{name} {metavar}"


def _shown(a: argparse.Action) -> bool:
    """Documented arguments; ``-v``/``-q`` are written once per row as shorthands."""
    if a.help == argparse.SUPPRESS or isinstance(
        a, (argparse._HelpAction, argparse._SubParsersAction)
    ):
        return False
    return not (isinstance(a, argparse._StoreConstAction) and a.dest == "log_level")


def options(p: argparse.ArgumentParser) -> list[str]:
    """Every documented argument of ``p``, as :func:`option_text` writes it."""
    return [option_text(a) for a in p._actions if _shown(a)]


def table() -> str:
    """The markdown table: command, what it does (the description's first sentence), options."""
    rows = ["| command | what it does | options (see `--help`) |", "|---|---|---|"]
    for command, p in parsers():
        what = " ".join((p.description or "").split()).split(". ")[0].rstrip(".")
        opts = ", ".join(f"`{o}`" for o in options(p))
        rows.append(f"| `{command}` | {what} | {opts}, `-v`/`-q` |")
    return "\n".join(rows)


def replace_table(text: str, new_table: str) -> str:
    """``text`` with the part between the START and END lines replaced by ``new_table``."""
    try:
        head, rest = text.split(START + "\n", 1)
        _, tail = rest.split(END, 1)
    except ValueError as err:
        raise ValueError(f"the README needs the lines {START} and {END}.") from err
    return f"{head}{START}\n{new_table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m cmt_live.cli.help_table", description=__doc__)
    p.add_argument("--write", type=Path, metavar="README", help="update this file in place")
    args = p.parse_args(argv)
    if args.write is None:
        print(table())
        return 0
    args.write.write_text(replace_table(args.write.read_text(), table()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
