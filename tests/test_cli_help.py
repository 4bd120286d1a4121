"""The five commands feel like one tool: the same logging flags, help on every option, plain
help text, and a README command table that matches what ``--help`` prints."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from cmt_live.channels import eeg_scales
from cmt_live.cli import help_table
from cmt_live.cli.common import plain

README = Path(__file__).resolve().parents[1] / "README.md"
PARSERS = help_table.parsers()
IDS = [name for name, _ in PARSERS]


def readme_rows() -> dict[str, str]:
    text = README.read_text()
    block = text.split(help_table.START)[1].split(help_table.END)[0]
    rows = {}
    for line in block.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[2]
    return rows


def long_options(text: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text)) - {"--help"}


def help_options(text: str) -> set[str]:
    """Long options listed in a ``--help`` text's option lists (not in its prose)."""
    heads = [ln.strip().split("  ")[0] for ln in text.splitlines() if ln.startswith("  -")]
    return long_options(" ".join(heads))


def test_readme_table_is_the_generated_one():
    text = README.read_text()
    assert help_table.replace_table(text, help_table.table()) == text, (
        "README's command table differs from the parsers; run "
        "`python -m cmt_live.cli.help_table --write README.md`."
    )


@pytest.mark.parametrize("name,parser", PARSERS, ids=IDS)
def test_readme_row_names_exactly_the_options_help_prints(name, parser):
    row = readme_rows()[name]
    help_text = parser.format_help()
    # -v/-q are written once as shorthands; --eeg-unit is an alias of --eeg-units.
    assert long_options(row) == help_options(help_text) - {"--verbose", "--quiet", "--eeg-unit"}
    assert "`-v`/`-q`" in row


@pytest.mark.parametrize("name,parser", PARSERS, ids=IDS)
def test_help_is_plain_with_help_on_every_option_and_no_empty_defaults(name, parser):
    text = parser.format_help()
    for bad in ("(default: None)", "(default: )", "``", ":func:", ":mod:", "(default: False)"):
        assert bad not in text, f"{name} --help shows {bad!r}"
    assert text.count("(default:") <= len(parser._actions)
    for action in parser._actions:
        if action.help == "==SUPPRESS==":
            continue
        assert action.help, f"{name}: {action.option_strings or action.dest} has no help"
        assert "default" not in action.help or "(default: %(default)s)" not in action.help


@pytest.mark.parametrize("name,parser", PARSERS, ids=IDS)
def test_every_command_takes_the_same_logging_flags(name, parser):
    base = []
    if name == "cmt-replay":
        base = ["f.xdf"]
    elif name == "cmt-dataset":
        base = ["--out", "d", "s.xdf:1:1"]
    elif name == "cmt-sim record":
        base = ["--out", "s.xdf"]
    elif name == "cmt-sim dataset":
        base = ["--out", "d"]
    elif name == "cmt-train":
        base = ["--data", "d"]
    elif name == "cmt-train evaluate":
        base = ["--model", "m.pt", "--data", "d", "--subject", "1"]
    assert parser.parse_args([*base, "-v"]).log_level == "DEBUG"
    assert parser.parse_args([*base, "-q"]).log_level == "ERROR"
    assert parser.parse_args([*base, "--log-level", "info"]).log_level == "INFO"
    assert parser.parse_args([*base, "--quiet"]).log_level == "ERROR"


def test_help_of_the_installed_entry_points_runs():
    for module in ("live", "replay", "sim", "train", "dataset"):
        out = subprocess.run(
            [sys.executable, "-m", f"cmt_live.cli.{module}", "--help"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert out.returncode == 0, out.stderr
        assert "--log-level" in out.stdout or module == "sim"
        assert "(default: None)" not in out.stdout and "``" not in out.stdout


def test_plain_drops_restructuredtext_markup():
    assert plain("``cmt-x``: see :mod:`cmt_live.io` and :func:`~a.b` or `c`") == (
        "cmt-x: see cmt_live.io and a.b or c"
    )


def test_a_gaze_stream_given_as_eeg_is_named_as_such():
    with pytest.raises(ValueError, match=r"'Gaze' is a gaze stream .* not EEG; give it as --eye"):
        eeg_scales("Gaze", ["degrees", "degrees", "", "", ""])
    with pytest.raises(ValueError, match=r"EEG stream 'X': Unknown EEG unit 'kV'"):
        eeg_scales("X", ["kV", "kV"])
