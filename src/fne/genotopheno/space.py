"""The search-space interface shared by every space, and the registry of spaces.

A space turns genotype text into immutable genotype values and back, checks them,
names isomorphic cells alike (``canonical``), samples them and builds networks::

    space = get_space("nb201")
    g = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|none~1|skip_connect~2|")
    assert space.parse(space.format(g)) == g
    net = space.build(g, num_classes=10)

``build`` and ``canonical`` take a genotype value or its text (``space.build(text)``).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import numpy as np
from torch import nn

from fne.registry import Registry

_SPACES: Registry[Callable[..., SearchSpace]] = Registry("search space")


PRESETS = ("score", "tournament", "full")
"""The network sizes every space declares: ``score`` (the network proxies are computed on),
``tournament`` (the networks tournament candidates train in) and ``full`` (the network a
picked cell is trained as)."""


class SearchSpace(abc.ABC):
    """Interface of a search space. Genotypes are immutable, hashable values.

    Attributes:
        name: the registered name.
        presets: ``space.build`` arguments of each network size of :data:`PRESETS`; a
            space without its own presets builds its full network for all three.
    """

    name: str = ""
    presets: Mapping[str, Mapping[str, Any]] = {"score": {}, "tournament": {}, "full": {}}

    @classmethod
    def preset(cls, size: str) -> dict[str, Any]:
        """A copy of the build arguments of the network size ``size`` (see :data:`PRESETS`).

        Raises:
            ValueError: an unknown size, naming the known ones.
        """
        if size not in PRESETS:
            raise ValueError(f"unknown network size {size!r}; sizes: {', '.join(PRESETS)}")
        return dict(cls.presets.get(size, {}))

    @property
    @abc.abstractmethod
    def ops(self) -> tuple[str, ...]:
        """The op names a genotype of this space may use."""

    @abc.abstractmethod
    def parse(self, text: str) -> Hashable:
        """Parse genotype text; raises ``ValueError`` naming the bad token and position."""

    @abc.abstractmethod
    def format(self, genotype: Any) -> str:
        """Write a genotype as text; ``parse(format(g)) == g``."""

    @abc.abstractmethod
    def validate(self, genotype: Any) -> None:
        """Raise ``ValueError`` if ``genotype`` is not a valid genotype of this space."""

    @abc.abstractmethod
    def canonical(self, genotype: Any) -> str:
        """A key equal for isomorphic or equivalent cells; ``genotype`` may be its text."""

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator) -> Hashable:
        """Draw a random valid genotype with ``rng``."""

    @abc.abstractmethod
    def build(self, genotype: Any, *, num_classes: int = 10, **kwargs: Any) -> nn.Module:
        """Build the network for ``genotype`` (a value or its text); ``print(net)`` shows the genotype."""

    def coerce(self, genotype: Any) -> Hashable:
        """The genotype ``genotype`` stands for: text is parsed, a value is validated.

        Raises:
            ValueError: for text :meth:`parse` rejects or a value :meth:`validate` rejects.
        """
        if isinstance(genotype, str):
            return self.parse(genotype)
        self.validate(genotype)
        return genotype

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, ops={list(self.ops)})"


def register_space(name: str) -> Callable[[type[SearchSpace]], type[SearchSpace]]:
    """Class decorator registering a :class:`SearchSpace` subclass under ``name``."""

    def decorator(cls: type[SearchSpace]) -> type[SearchSpace]:
        _SPACES.add(name, cls)
        cls.name = name
        return cls

    return decorator


def get_space(name: str, **kwargs: Any) -> SearchSpace:
    """Return a new instance of the space registered under ``name``.

    Args:
        name: ``"nb201"``, ``"darts"``, ``"channels"`` or a user-registered space.
        **kwargs: passed to the space's constructor (e.g. ``ops=`` for ``fne``).

    Raises:
        ValueError: for an unknown name.
    """
    return _SPACES.get(name)(**kwargs)


def space_preset(name: str, size: str) -> dict[str, Any]:
    """The build arguments of network size ``size`` of the space registered as ``name``."""
    return _SPACES.get(name).preset(size)


def list_spaces() -> list[str]:
    """Names of the registered search spaces."""
    return _SPACES.names()


def is_ascii_digits(text: str) -> bool:
    """Whether ``text`` is one or more ASCII digits ``0-9`` (``str.isdigit`` also takes ``'²'``)."""
    return bool(text) and text.isascii() and text.isdigit()


def check_ops_known(ops: tuple[str, ...], registered: list[str]) -> None:
    """Raise ``ValueError`` if any name in ``ops`` is not a registered op."""
    for op in ops:
        if op not in registered:
            raise ValueError(f"unknown op {op!r}; registered ops: {', '.join(registered)}")
