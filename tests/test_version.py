"""One version: declared in fne/__init__.py, read by setup.cfg, printed by ``fne --version``, in the changelog."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import fne
from fne.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_fne_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"fne {fne.__version__}"


def test_the_version_is_declared_once() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", fne.__version__)
    setup = (ROOT / "setup.cfg").read_text(encoding="utf-8")
    assert re.search(r"^version = attr: fne.__version__$", setup, re.MULTILINE)
    assert fne.__version__ not in setup + (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_the_changelog_has_a_section_for_this_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## \[?(\d+\.\d+\.\d+)\]?", changelog, re.MULTILINE)
    assert headings and headings[0] == fne.__version__
