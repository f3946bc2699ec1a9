"""The README's generated sections (command reference, output topics, node parameters) are current, and the
command reference names every sub-command and option of the parser: the README cannot drift from --help."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from mmfusion_annotate.cli import build_parser
from mmfusion_annotate.events.model import Severity

REPO = Path(__file__).resolve().parents[2]


def _commands(parser: argparse.ArgumentParser):
    """(prog, option strings) of ``parser`` and of every sub-command below it."""
    yield parser.prog, [s for a in parser._actions for s in a.option_strings]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _commands(child)


def test_the_generated_readme_sections_are_current():
    check = [sys.executable, str(REPO / "scripts" / "readme_reference.py"), "--check"]
    result = subprocess.run(check, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_every_subcommand_and_option_is_in_the_readme():
    """Each command has its own heading, and each of its options appears under that heading."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    missing = []
    for prog, options in _commands(build_parser()):
        heading = f"`{prog}`\n"
        if heading not in readme:
            missing.append(prog)
            continue
        section = readme.split(heading, 1)[1].split("\n#", 1)[0]
        named = set(re.findall(r"(?<![\w-])(--?[\w-]+)", section))
        missing += [f"{prog} {o}" for o in options if o not in ("-h", "--help") and o not in named]
    assert not missing, f"not in README.md: {missing}"


def test_the_severities_the_events_help_names_are_the_ones_it_accepts():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["events"]
    (option,) = [a for a in sub._actions if "--min-severity" in a.option_strings]
    named = re.findall(r"[a-z]+", option.help.split(":", 1)[1].replace(" or ", " "))
    assert named == [s.value for s in Severity]
