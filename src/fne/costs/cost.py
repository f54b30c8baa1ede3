"""What a cell's network costs where it will run: the :class:`Cost` interface and its registry.

A cost is a named, registered measure of the network a genotype becomes *as it will be
trained* (the space's ``full`` preset, built for the data's channels, classes and image
size: a :class:`NetworkSpec`), declared with its unit. Lower is always better. Costs are
measured once per canonical cell and cached::

    spec = NetworkSpec(get_space("nb201"), {"num_classes": 10}, (3, 32, 32))
    flops = get_cost("flops")
    values = flops.measure(spec, ["|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"])

A cost of one's own subclasses :class:`Cost` and registers itself::

    @register_cost("depth")
    class Depth(Cost):
        unit = "layers"
        def measure_one(self, spec, genotype):
            return float(count_layers(spec.build(genotype, device="meta")))
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import nn
from torch.types import Device

from fne.genotopheno.space import SearchSpace
from fne.registry import Registry

__all__ = ["Cost", "NetworkSpec", "register_cost", "get_cost", "get_cost_class", "list_costs"]


@dataclass(frozen=True)
class NetworkSpec:
    """The network a genotype becomes where it will run.

    Attributes:
        space: the search space.
        build_kwargs: ``space.build`` arguments (the ``full`` preset with the data's
            ``in_channels`` and ``num_classes``).
        input_shape: ``(channels, height, width)`` of one image.
    """

    space: SearchSpace[Any]
    build_kwargs: Mapping[str, Any] = field(default_factory=dict)
    input_shape: tuple[int, int, int] = (3, 32, 32)

    @classmethod
    def full(
        cls,
        space: SearchSpace[Any],
        *,
        in_channels: int = 3,
        num_classes: int = 10,
        image_size: tuple[int, int] = (32, 32),
    ) -> NetworkSpec:
        """The space's ``full`` network for images of ``in_channels`` x ``image_size`` and ``num_classes`` classes."""
        kwargs = {**space.preset("full"), "in_channels": in_channels, "num_classes": num_classes}
        return cls(space, kwargs, (in_channels, *image_size))

    def build(self, genotype: Any, device: Device = None) -> nn.Module:
        """The network of ``genotype`` (on the ``meta`` device it allocates nothing)."""
        if device is not None and torch.device(device).type == "meta":
            with torch.device("meta"):
                return self.space.build(genotype, **self.build_kwargs)
        return self.space.build(genotype, device=device, **self.build_kwargs)

    def inputs(self, batch_size: int = 1, device: Device = None) -> torch.Tensor:
        """A batch of zero images of :attr:`input_shape`."""
        return torch.zeros((batch_size, *self.input_shape), device=device)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description: space, build arguments and input shape."""
        shape = list(self.input_shape)
        return {"space": self.space.name, "build_kwargs": dict(self.build_kwargs), "input_shape": shape}


class Cost(abc.ABC):
    """A measure of a cell's network, lower is better, cached by canonical key.

    Subclasses set :attr:`unit` and implement :meth:`measure_one`; one that measures many
    cells at once overrides :meth:`measure_many`.

    Attributes:
        name: the registered name (set by :func:`register_cost`).
        unit: what a value counts, e.g. ``"M parameters"`` or ``"ms"``.
        label: the axis label of plots, e.g. ``"M params"``.
        parallel: whether cells may be measured in worker processes side by side (not a
            timing, which other work on the machine would disturb).
    """

    name: str = ""
    unit: str = ""
    label: str = ""
    parallel: bool = False

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], float] = {}

    @abc.abstractmethod
    def measure_one(self, spec: NetworkSpec, genotype: Any) -> float:
        """The cost of one valid genotype's network."""

    def measure_many(self, spec: NetworkSpec, genotypes: Sequence[Any]) -> list[float]:
        """The costs of ``genotypes``' networks, in order (cells not yet cached only)."""
        return [float(self.measure_one(spec, g)) for g in genotypes]

    def measure(self, spec: NetworkSpec, genotypes: Sequence[Any]) -> list[float]:
        """The cost of each genotype (a value or its text), from the cache where measured before.

        Raises:
            ValueError: a genotype the space rejects.
        """
        cells = [spec.space.coerce(g) for g in genotypes]
        keys = [self._key(spec, g) for g in cells]
        missing = {k: g for k, g in zip(keys, cells, strict=True) if k not in self._cache}
        if missing:
            values = self.measure_many(spec, list(missing.values()))
            self._cache.update(zip(missing, (float(v) for v in values), strict=True))
        return [self._cache[k] for k in keys]

    @staticmethod
    def _key(spec: NetworkSpec, genotype: Any) -> tuple[str, str]:
        return (spec.space.name, spec.space.canonical(genotype))

    def cached(self, spec: NetworkSpec, genotype: Any) -> bool:
        """Whether the cost of ``genotype`` (a valid value) is known."""
        return self._key(spec, genotype) in self._cache

    def remember(self, spec: NetworkSpec, genotype: Any, value: float) -> None:
        """Cache ``value`` as the cost of ``genotype`` (a valid value), measured elsewhere."""
        self._cache[self._key(spec, genotype)] = float(value)

    def describe(self) -> dict[str, Any]:
        """JSON-ready settings of this cost (name, unit and any options), for ``result.json``."""
        return {"name": self.name, "unit": self.unit}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"


C = TypeVar("C", bound=type[Cost])
_COSTS: Registry[type[Cost]] = Registry("cost")


def register_cost(name: str) -> Callable[[C], C]:
    """Class decorator registering a :class:`Cost` subclass under ``name``.

    Raises:
        ValueError: ``name`` is taken or empty.
    """

    def decorator(cls: C) -> C:
        _COSTS.add(name, cls)
        cls.name = name
        return cls

    return decorator


def get_cost_class(name: str) -> type[Cost]:
    """The cost class registered as ``name``; ``ValueError`` naming the known ones otherwise."""
    return _COSTS.get(name)


def get_cost(name: str, **options: Any) -> Cost:
    """A new instance of the cost registered as ``name`` with its ``options``.

    Raises:
        ValueError: an unknown name, or options the cost rejects.
    """
    cls = get_cost_class(name)
    try:
        return cls(**options)
    except TypeError as err:
        raise ValueError(f"cost {name!r}: {err}") from None


def list_costs() -> list[str]:
    """Names of the registered costs, in registration order."""
    return _COSTS.names()
