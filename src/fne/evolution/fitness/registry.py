"""The registry of training-free proxies.

A proxy is a function ``(net, inputs, targets) -> float`` registered under a unique
name together with its orientation::

    @register_proxy("mean_logit", higher_is_better=True)
    def mean_logit(net, inputs, targets):
        with torch.no_grad():
            return float(net(inputs).mean())

A proxy must not change the network it is given (parameters, buffers, gradients,
train/eval mode, hooks) and may return a non-finite value for a cell it cannot score;
:func:`fne.evolution.fitness.to_objectives` turns such values into the worst score.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from fne.registry import Registry

ProxyFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], float]

_PROXIES: Registry[Proxy] = Registry("proxy", plural="proxies")


@dataclass(frozen=True)
class Proxy:
    """A registered proxy: its name, function and orientation."""

    name: str
    fn: ProxyFn
    higher_is_better: bool

    def __call__(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        return float(self.fn(net, inputs, targets))


def register_proxy(name: str, higher_is_better: bool) -> Callable[[ProxyFn], ProxyFn]:
    """Register a proxy function under ``name``.

    Args:
        name: the proxy's name (letters, digits and ``_``).
        higher_is_better: whether larger values predict better accuracy.

    Returns:
        A decorator that registers the function and returns it unchanged.

    Raises:
        ValueError: if ``name`` is taken or not a valid name.
    """
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise ValueError(f"proxy name {name!r} must be letters, digits and '_' only")
    if not isinstance(higher_is_better, bool):
        raise ValueError(f"proxy {name!r}: higher_is_better must be a bool, got {higher_is_better!r}")

    def decorator(fn: ProxyFn) -> ProxyFn:
        _PROXIES.add(name, Proxy(name, fn, higher_is_better))
        return fn

    return decorator


def unregister_proxy(name: str) -> None:
    """Remove a registered proxy (mainly for tests); unknown names raise ``ValueError``."""
    _PROXIES.remove(name)


def get_proxy(name: str) -> Proxy:
    """Return the :class:`Proxy` registered under ``name``.

    Raises:
        ValueError: naming the unknown proxy and the known ones.
    """
    return _PROXIES.get(name)


def list_proxies() -> list[str]:
    """Names of all registered proxies, in registration order."""
    return _PROXIES.names()
