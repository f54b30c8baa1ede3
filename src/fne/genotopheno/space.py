"""The search-space interface shared by every space, and the registry of spaces.

A space turns genotype text into immutable genotype values and back, checks them,
names isomorphic cells alike (``canonical``), samples them and builds networks::

    space = get_space("nb201")
    g = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|none~0|none~1|skip_connect~2|")
    assert space.parse(space.format(g)) == g
    net = space.build(g, num_classes=10)

``build`` and ``canonical`` take a genotype value or its text (``space.build(text)``).
``build`` holds what every space shares (reading the genotype, checking ``num_classes`` and
``in_channels``, moving the network to a device); a space builds its own network in ``_build``.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import numpy as np
from torch import nn
from torch.types import Device

from fne.registry import Registry

if TYPE_CHECKING:
    from fne.genotopheno.variation import VariationOperators

G = TypeVar("G", bound=Hashable)
"""The genotype type of a space."""

_SPACES: Registry[type[SearchSpace[Any]]] = Registry("search space")


PRESETS = ("score", "tournament", "full")
"""The network sizes every space declares: ``score`` (the network proxies are computed on),
``tournament`` (the networks tournament candidates train in) and ``full`` (the network a
picked cell is trained as)."""


@dataclass(frozen=True)
class SearchDefaults:
    """The training-free ranking a search of a space uses unless told otherwise.

    Chosen per space on its benchmark by ``benchmarks/bench_proxies.py`` (see the report).

    Attributes:
        proxies: the proxies of the chosen ranking.
        ranking: the aggregator of their ranks (``mean_rank``, ``log_rank``, ``nondominated``).
        weights: ``{proxy: weight}`` in that aggregator.
    """

    proxies: tuple[str, ...]
    ranking: str
    weights: Mapping[str, float] = field(default_factory=dict)


class SearchSpace(abc.ABC, Generic[G]):
    """Interface of a search space whose genotypes are immutable, hashable values of type ``G``.

    Attributes:
        name: the registered name.
        presets: ``space.build`` arguments of each network size of :data:`PRESETS`; a
            space without its own presets builds its full network for all three.
        variation: the space's crossovers and mutations
            (:class:`fne.genotopheno.variation.VariationOperators`), which
            :func:`fne.genotopheno.variation.get_variation` returns; each built-in space's
            package sets it from its ``variation`` module, a user's space sets it on its class
            or with :func:`fne.genotopheno.variation.register_variation`.
        search_defaults: the training-free ranking chosen for this space
            (:class:`SearchDefaults`); None where none was chosen on a benchmark of the
            space, and the search then uses the NB201 one (:mod:`fne.evolution.defaults`).
    """

    name: str = ""
    presets: Mapping[str, Mapping[str, Any]] = {"score": {}, "tournament": {}, "full": {}}
    variation: ClassVar[VariationOperators | None] = None
    search_defaults: ClassVar[SearchDefaults | None] = None

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
    def parse(self, text: str) -> G:
        """Parse genotype text; raises ``ValueError`` naming the bad token and position."""

    @abc.abstractmethod
    def format(self, genotype: G) -> str:
        """Write a genotype as text; ``parse(format(g)) == g``."""

    @abc.abstractmethod
    def validate(self, genotype: Any) -> None:
        """Raise ``ValueError`` if ``genotype`` is not a valid genotype of this space."""

    @abc.abstractmethod
    def canonical(self, genotype: G | str) -> str:
        """A key equal for isomorphic or equivalent cells; ``genotype`` may be its text."""

    def live(self, genotype: G) -> G:
        """The same function with every op that cannot reach the output removed.

        Training-free scores are taken on this form, so that isomorphic cells (one
        :meth:`canonical` key) get one network and size proxies count only what computes.
        A space without dead ops returns ``genotype`` itself.
        """
        return genotype

    def computes(self, genotype: G) -> bool:
        """Whether the network's output depends on its input.

        False for a cell through which no path of ops leads from input to output: its network
        computes the same output for every image, and quality-cost fronts leave it out (it is
        the cheapest network on a device that skips dead ops, and no one deploys it). A space
        whose cells always compute returns True.
        """
        return True

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator) -> G:
        """Draw a random valid genotype with ``rng``."""

    def build(
        self,
        genotype: G | str,
        *,
        num_classes: int = 10,
        in_channels: int = 3,
        device: Device = None,
        **size: Any,
    ) -> nn.Module:
        """Build the network for ``genotype`` (a value or its text); ``print(net)`` shows the genotype.

        Args:
            genotype: the genotype (validated first) or its text (parsed).
            num_classes: outputs of the classifier.
            in_channels: channels of the input images.
            device: where to put the network; None leaves it on the CPU.
            **size: the space's own arguments (sizes as in its :attr:`presets`), documented
                in its :meth:`_build`.

        Returns:
            The space's network.

        Raises:
            ValueError: for an argument the space does not take, invalid genotype text or
                value, a ``num_classes`` or ``in_channels`` that is not a positive int, or
                sizes the space rejects.
        """
        unknown = self._unknown_build_arguments(size)
        if unknown:
            raise ValueError(f"unexpected build arguments for {self.name or type(self).__name__}: {unknown}")
        g = self.coerce(genotype)
        check_positive_ints(num_classes=num_classes, in_channels=in_channels)
        net = self._build(g, num_classes=num_classes, in_channels=in_channels, **size)
        return net if device is None else net.to(device)

    @abc.abstractmethod
    def _build(self, genotype: G, *args: Any, **kwargs: Any) -> nn.Module:
        """Build the network of a valid ``genotype``; :meth:`build` calls it.

        :meth:`build` passes ``num_classes`` and ``in_channels`` (checked) and the space's own
        arguments by keyword. A space declares its own arguments as keyword-only parameters
        with the defaults of its full network and documents them in its ``_build`` docstring;
        :meth:`build` rejects any other name.
        """

    def _unknown_build_arguments(self, names: Iterable[str]) -> list[str]:
        """The names among ``names`` that :meth:`_build` does not take, sorted (none if it takes ``**kwargs``)."""
        params = inspect.signature(self._build).parameters.values()
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            return []
        keywords = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return sorted(set(names) - {p.name for p in params if p.kind in keywords})

    def coerce(self, genotype: G | str) -> G:
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


S = TypeVar("S", bound="type[SearchSpace[Any]]")


def register_space(name: str) -> Callable[[S], S]:
    """Class decorator registering a :class:`SearchSpace` subclass under ``name``."""

    def decorator(cls: S) -> S:
        _SPACES.add(name, cls)
        cls.name = name
        return cls

    return decorator


def get_space(name: str, **kwargs: Any) -> SearchSpace[Any]:
    """Return a new instance of the space registered under ``name``.

    Args:
        name: ``"nb201"``, ``"darts"``, ``"channels"`` or a user-registered space.
        **kwargs: passed to the space's constructor (e.g. ``ops=`` for ``channels``).

    Raises:
        ValueError: for an unknown name.
    """
    return _SPACES.get(name)(**kwargs)


def get_space_class(name: str) -> type[SearchSpace[Any]]:
    """The class of the space registered under ``name``; raises ``ValueError`` for an unknown name."""
    return _SPACES.get(name)


def list_spaces() -> list[str]:
    """Names of the registered search spaces."""
    return _SPACES.names()


def is_ascii_digits(text: str) -> bool:
    """Whether ``text`` is one or more ASCII digits ``0-9`` (``str.isdigit`` also takes ``'²'``)."""
    return bool(text) and text.isascii() and text.isdigit()


def check_positive_ints(**values: Any) -> None:
    """Raise ``ValueError`` naming the first of ``values`` that is not a positive int (a bool is not)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def check_ops_known(ops: tuple[str, ...], registered: list[str]) -> None:
    """Raise ``ValueError`` if any name in ``ops`` is not a registered op."""
    for op in ops:
        if op not in registered:
            raise ValueError(f"unknown op {op!r}; registered ops: {', '.join(registered)}")
