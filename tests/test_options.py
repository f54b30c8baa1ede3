"""Options declared on configuration dataclasses: generated parsers, checks and the ``fne`` command."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest

from fne.options import add_options, check_options, from_args, json_fields, key_value, option, option_flags


@dataclass(frozen=True)
class Inner:
    rate: float = option(0.5, "a rate", low=0.0, high=1.0)
    fast: bool = option(True, "go fast")


@dataclass(frozen=True)
class Outer:
    size: int = option(3, "a size", low=1)
    name: str | None = option(None, "a name", choices=("a", "b"))
    tags: tuple[str, ...] = option(("x", "y"), "tags", choices=("x", "y", "z"))
    build: dict[str, Any] | None = option(None, "build args", flag="build-arg")
    inner: Inner = option(help="inner things", default_factory=Inner)
    hidden: int = option(7, "not on the command line", cli=False)


def _parse(*argv: str) -> Outer:
    parser = argparse.ArgumentParser()
    add_options(parser, Outer)
    return from_args(Outer, parser.parse_args(list(argv)))


def test_defaults_come_from_the_dataclass() -> None:
    assert _parse() == Outer()


def test_every_kind_of_option_parses() -> None:
    got = _parse(
        "--size",
        "5",
        "--name",
        "b",
        "--tags",
        "x,z",
        "--build-arg",
        "C=8",
        "--build-arg",
        "k=0.5",
        "--rate",
        "0.25",
        "--no-fast",
    )
    assert got == Outer(size=5, name="b", tags=("x", "z"), build={"C": 8, "k": 0.5}, inner=Inner(0.25, False))
    assert _parse("--tags", "y", "z").tags == ("y", "z")


def test_fields_off_the_command_line_and_flags() -> None:
    assert option_flags(Outer) == ["--size", "--name", "--tags", "--build-arg", "--rate", "--fast"]
    with pytest.raises(SystemExit):
        _parse("--hidden", "3")


@pytest.mark.parametrize(
    "config, message",
    [
        (Outer(size=0), "--size must be an integer >= 1, got 0"),
        (Outer(size=True), "--size must be an integer, got True"),
        (Outer(name="c"), "--name must be one of a, b; got 'c'"),
        (Outer(tags=("x", "w")), "--tags must be one of x, y, z; got 'w'"),
        (Outer(inner=Inner(rate=1.5)), "--rate must be a number <= 1, got 1.5"),
        (Outer(inner=Inner(fast="yes")), "--fast must be true or false, got 'yes'"),
    ],
)
def test_checks_name_the_flag(config: Outer, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_options(config)


def test_key_value_parsing() -> None:
    assert key_value("C=8") == ("C", 8)
    assert key_value("scale=0.5") == ("scale", 0.5)
    assert key_value("affine=false") == ("affine", False)
    assert key_value("mode=avg") == ("mode", "avg")
    with pytest.raises(argparse.ArgumentTypeError, match="KEY=VALUE"):
        key_value("C8")


def _declared(cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("command", ["search", "score", "train", "export"])
def test_every_config_field_is_a_declared_option(command: str) -> None:
    from fne.cli import _module

    module = _module(command)
    config = {
        "search": "SearchConfig",
        "score": "ScoreConfig",
        "train": "TrainCommandConfig",
        "export": "ExportConfig",
    }[command]
    cls = getattr(module, config, None) or getattr(__import__("fne.search.run", fromlist=["x"]), config)
    undeclared = [name for name, f in _declared(cls).items() if "fne_option" not in f.metadata]
    assert undeclared == []
    parser = module.build_parser(prog=f"fne {command}")
    help_text = parser.format_help()
    for flag in option_flags(cls):
        if flag in ("--workers", "--backend", "--ray-address") and command == "train":
            continue
        assert flag in help_text, flag


def test_the_search_parser_gives_the_search_config_defaults() -> None:
    from fne.cli.search_command import build_parser
    from fne.search.config import SearchConfig

    parser = build_parser(prog="fne search")
    assert from_args(SearchConfig, parser.parse_args([])) == SearchConfig()
    got = from_args(
        SearchConfig, parser.parse_args(["--tournament-loss", "each", "--train-batch", "64", "--proxies", "ntk,naswot"])
    )
    assert got.tournament_weight_loss == "each" and got.training.batch_size == 64
    assert got.proxies == ("ntk", "naswot")


def test_fne_command_dispatches_and_reports_usage_errors(capsys: pytest.CaptureFixture) -> None:
    from fne.cli import main

    with pytest.raises(SystemExit) as info:
        main(["search", "--pop-size", "1", "--out", "unused"])
    assert info.value.code == 2
    assert "fne search: error: --pop-size must be an integer >= 2, got 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["export", "--model", "/no/such/model.pt"])
    assert info.value.code == 2
    assert "model file /no/such/model.pt does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["bogus"])
    assert info.value.code == 2


def test_json_fields_parses_known_fields_and_names_bad_items() -> None:
    assert json_fields(["lr=0.05", 'augment="none"', 'build={"C": 4}'], ["lr", "augment", "build"]) == {
        "lr": 0.05,
        "augment": "none",
        "build": {"C": 4},
    }
    with pytest.raises(ValueError, match=r"--set 'nope=1': expected FIELD=JSON with FIELD one of \['lr'\]"):
        json_fields(["nope=1"], ["lr"])
    with pytest.raises(ValueError, match="--train 'lr': expected FIELD=JSON"):
        json_fields(["lr"], ["lr"], flag="--train")
    with pytest.raises(ValueError, match="'x' is not JSON"):
        json_fields(["lr=x"], ["lr"])
