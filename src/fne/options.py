"""Options declared once, on configuration dataclasses; parsers and checks generated from them.

A configuration field becomes a command-line option by carrying :func:`option` metadata::

    @dataclass(frozen=True)
    class TrainConfig:
        epochs: int = option(1, "passes over the training images", low=1)
        lr: float = option(0.1, "initial learning rate", low=0.0, flag="lr")

    parser = argparse.ArgumentParser()
    add_options(parser, TrainConfig)              # --epochs, --lr with help and defaults
    config = from_args(TrainConfig, parser.parse_args())
    check_options(config)                         # ranges and choices, named by their flags

Types come from the annotations: ``int``, ``float``, ``str``, ``bool`` (a switch),
``Optional[...]`` of those (default None), ``Tuple[str, ...]`` (comma-separated names) and
``Optional[Dict[str, Any]]`` (repeatable ``KEY=VALUE``). A field whose type is itself a
configuration dataclass becomes an argument group of its own options (nested configs).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, Union

__all__ = [
    "option",
    "OptionSpec",
    "add_options",
    "from_args",
    "check_options",
    "key_value",
    "json_fields",
    "names",
    "option_flags",
]

T = TypeVar("T")
_KEY = "fne_option"
Choices = Sequence[Any] | Callable[[], Sequence[Any]] | None


@dataclass(frozen=True)
class OptionSpec:
    """How one configuration field appears on the command line and what values it takes."""

    help: str
    flag: str | None = None
    choices: Choices = None
    low: float | None = None
    high: float | None = None
    metavar: str | None = None
    cli: bool = True

    def allowed(self) -> tuple[Any, ...] | None:
        """The choices, evaluated when they are given as a function (registries grow)."""
        if self.choices is None:
            return None
        return tuple(self.choices() if callable(self.choices) else self.choices)


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    default_factory: Any = dataclasses.MISSING,
    flag: str | None = None,
    choices: Choices = None,
    low: float | None = None,
    high: float | None = None,
    metavar: str | None = None,
    cli: bool = True,
) -> Any:
    """A dataclass field that is also a command-line option.

    Args:
        default: the default value.
        help: one line of help text.
        default_factory: for mutable defaults (nested configurations).
        flag: the option's name without dashes (default: the field name with ``-`` for ``_``).
        choices: allowed values, or a function returning them.
        low: smallest allowed value of a number (inclusive).
        high: largest allowed value of a number (inclusive).
        metavar: the value's name in the help.
        cli: False keeps the field out of the command line (still checked).
    """
    spec = OptionSpec(help, flag, choices, low, high, metavar, cli)
    kwargs: dict[str, Any] = {"metadata": {_KEY: spec}}
    if default_factory is not dataclasses.MISSING:
        kwargs["default_factory"] = default_factory
    else:
        kwargs["default"] = default
    return dataclasses.field(**kwargs)


def names(text: str) -> tuple[str, ...]:
    """Parse comma-separated names (``"a, b"`` -> ``("a", "b")``)."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def key_value(text: str) -> tuple[str, Any]:
    """Parse ``KEY=VALUE``; VALUE becomes an int, a float, a bool (true/false) or stays text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    if value.lower() in ("true", "false"):
        return key, value.lower() == "true"
    for cast in (int, float):
        try:
            return key, cast(value)
        except ValueError:
            pass
    return key, value


def json_fields(items: Sequence[str], fields: Sequence[str], flag: str = "--set") -> dict[str, Any]:
    """Parse ``["FIELD=JSON", ...]`` into ``{field: value}``.

    Args:
        items: the ``FIELD=JSON`` texts, as an option collected them.
        fields: the field names allowed.
        flag: the option, for the error messages.

    Raises:
        ValueError: an item without ``=``, a field not in ``fields``, or a value that is not JSON.
    """
    values: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or name not in fields:
            raise ValueError(f"{flag} {item!r}: expected FIELD=JSON with FIELD one of {sorted(fields)}")
        try:
            values[name] = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{flag} {item!r}: {text!r} is not JSON ({err})") from None
    return values


def _spec(f: dataclasses.Field) -> OptionSpec | None:
    return f.metadata.get(_KEY)


def _flag(f: dataclasses.Field) -> str:
    spec = _spec(f)
    return spec.flag if spec and spec.flag else f.name.replace("_", "-")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """``Optional[X]`` -> ``(X, True)``; anything else -> ``(tp, False)``."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return tp, False


def _is_config(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _fields(cls: type) -> Iterator[tuple[dataclasses.Field, Any]]:
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        yield f, hints[f.name]


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _argument(parser: Any, f: dataclasses.Field, tp: Any, spec: OptionSpec) -> None:
    """Add the option of one plain field to ``parser`` (a parser or an argument group)."""
    base, _ = _unwrap_optional(tp)
    default, flag = _default(f), "--" + _flag(f)
    shown = f" (default: {_shown(default)})" if default not in (None, False) else ""
    kwargs: dict[str, Any] = {"dest": f.name, "default": default, "help": spec.help + shown}
    if spec.metavar:
        kwargs["metavar"] = spec.metavar
    if base is bool:
        kwargs["action"] = argparse.BooleanOptionalAction if default else "store_true"
    elif typing.get_origin(base) is tuple:
        kwargs.update(nargs="+", type=names, action=_Names, metavar=spec.metavar or "NAME")
    elif typing.get_origin(base) is dict or base is dict:
        kwargs.update(type=key_value, action="append", default=None, metavar=spec.metavar or "KEY=VALUE")
    else:
        kwargs["type"] = base
        if spec.choices is not None:
            kwargs["choices"] = spec.allowed()
    parser.add_argument(flag, **kwargs)


class _Names(argparse.Action):
    """Collect names given space- or comma-separated (``--proxies a b`` or ``--proxies a,b``)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, tuple(name for part in values for name in part))


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def add_options(parser: argparse.ArgumentParser, cls: type, *, group: Any = None, skip: Sequence[str] = ()) -> None:
    """Add an option for every field of the configuration dataclass ``cls``.

    Args:
        parser: the parser to extend.
        cls: a dataclass whose fields carry :func:`option` metadata; nested configuration
            dataclasses become argument groups titled with their ``help``.
        group: where to add the plain fields (default: ``parser`` itself).
        skip: field names left out.
    """
    target = group if group is not None else parser
    for f, tp in _fields(cls):
        spec = _spec(f)
        if spec is None or not spec.cli or f.name in skip:
            continue
        if _is_config(tp):
            add_options(parser, tp, group=parser.add_argument_group(spec.help or f.name), skip=skip)
        else:
            _argument(target, f, tp, spec)


def from_args(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """Build ``cls`` from parsed options (fields absent from ``args`` keep their defaults)."""
    values: dict[str, Any] = {}
    for f, tp in _fields(cls):
        if f.name in overrides:
            values[f.name] = overrides[f.name]
        elif _is_config(tp):
            values[f.name] = from_args(tp, args)
        elif hasattr(args, f.name):
            value = getattr(args, f.name)
            if _is_mapping(tp):
                if value is None:  # not given: the field's own default
                    continue
                value = dict(value)
            values[f.name] = value
    return cls(**values)


def _is_mapping(tp: Any) -> bool:
    base, _ = _unwrap_optional(tp)
    return base is dict or typing.get_origin(base) is dict


def option_flags(cls: type) -> list[str]:
    """Every command-line flag ``cls`` declares, nested configurations included."""
    flags: list[str] = []
    for f, tp in _fields(cls):
        spec = _spec(f)
        if spec is None or not spec.cli:
            continue
        flags.extend(option_flags(tp) if _is_config(tp) else ["--" + _flag(f)])
    return flags


def check_options(config: Any) -> None:
    """Check every declared option of ``config`` (nested ones too) against its type and range.

    Raises:
        ValueError: naming the first option that is wrong by its flag, e.g.
            ``--pop-size must be an integer >= 2, got 1``.
    """
    for f, tp in _fields(type(config)):
        spec, value = _spec(f), getattr(config, f.name)
        if spec is None:
            continue
        if _is_config(tp):
            check_options(value)
        else:
            _check_value("--" + _flag(f), tp, spec, value)


def _check_value(flag: str, tp: Any, spec: OptionSpec, value: Any) -> None:
    base, optional = _unwrap_optional(tp)
    if value is None and optional:
        return
    if base is int or base is float:
        _check_number(flag, base, spec, value)
    elif base is bool and not isinstance(value, bool):
        raise ValueError(f"{flag} must be true or false, got {value!r}")
    elif base is str and not isinstance(value, str):
        raise ValueError(f"{flag} must be text, got {value!r}")
    allowed = spec.allowed()
    values = value if typing.get_origin(base) is tuple else (value,)
    bad = [v for v in values if allowed is not None and v not in allowed]
    if bad:
        raise ValueError(f"{flag} must be one of {', '.join(map(str, allowed or ()))}; got {bad[0]!r}")


def _check_number(flag: str, base: type, spec: OptionSpec, value: Any) -> None:
    kinds = (int,) if base is int else (int, float)
    what = "an integer" if base is int else "a number"
    if isinstance(value, bool) or not isinstance(value, kinds) or value != value:
        raise ValueError(f"{flag} must be {what}, got {value!r}")
    if spec.low is not None and value < spec.low:
        raise ValueError(f"{flag} must be {what} >= {_num(spec.low)}, got {value!r}")
    if spec.high is not None and value > spec.high:
        raise ValueError(f"{flag} must be {what} <= {_num(spec.high)}, got {value!r}")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
