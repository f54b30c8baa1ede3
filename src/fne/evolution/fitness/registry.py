"""The registry of training-free proxies.

A proxy is a function ``(net, inputs, targets) -> float`` registered under a unique
name together with its orientation and the unit of its values::

    @register_proxy("mean_logit", higher_is_better=True, unit="logit")
    def mean_logit(net, inputs, targets):
        with torch.no_grad():
            return float(net(inputs).mean())

A proxy must not change the network it is given (parameters, buffers, gradients,
train/eval mode, hooks) and may return a non-finite value for a cell it cannot score;
:func:`fne.evolution.fitness.to_objectives` turns such values into the worst score.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn

from fne.registry import Registry

__all__ = [
    "Proxy",
    "ProxyFn",
    "register_proxy",
    "unregister_proxy",
    "get_proxy",
    "list_proxies",
    "check_proxy_names",
]

ProxyFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], float]

_PROXIES: Registry[Proxy] = Registry("proxy", plural="proxies")


@dataclass(frozen=True)
class Proxy:
    """A registered proxy.

    Attributes:
        name: the registered name.
        fn: the function ``(net, inputs, targets) -> float``.
        higher_is_better: whether larger values predict better accuracy.
        unit: what its values count or measure (axis labels), None when not declared.
        log_scale: whether its values are best shown on a logarithmic axis.
    """

    name: str
    fn: ProxyFn
    higher_is_better: bool
    unit: str | None = None
    log_scale: bool = False

    def __call__(self, net: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        return float(self.fn(net, inputs, targets))


def register_proxy(
    name: str, higher_is_better: bool, unit: str | None = None, log_scale: bool = False
) -> Callable[[ProxyFn], ProxyFn]:
    """Register a proxy function under ``name``.

    Args:
        name: the proxy's name (letters, digits and ``_``).
        higher_is_better: whether larger values predict better accuracy.
        unit: what its values count or measure, e.g. ``"M parameters"`` (shown in axis labels).
        log_scale: whether its values are best shown on a logarithmic axis.

    Returns:
        A decorator that registers the function and returns it unchanged.

    Raises:
        ValueError: ``name`` is taken or not a valid name, ``higher_is_better`` or
            ``log_scale`` is not a bool, or ``unit`` is not a non-empty string or None.
    """
    if not isinstance(name, str) or not name.replace("_", "").isalnum():
        raise ValueError(f"proxy name {name!r} must be letters, digits and '_' only")
    if not isinstance(higher_is_better, bool):
        raise ValueError(f"proxy {name!r}: higher_is_better must be a bool, got {higher_is_better!r}")
    if unit is not None and (not isinstance(unit, str) or not unit):
        raise ValueError(f"proxy {name!r}: unit must be a non-empty string or None, got {unit!r}")
    if not isinstance(log_scale, bool):
        raise ValueError(f"proxy {name!r}: log_scale must be a bool, got {log_scale!r}")

    def decorator(fn: ProxyFn) -> ProxyFn:
        _PROXIES.add(name, Proxy(name, fn, higher_is_better, unit, log_scale))
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


def check_proxy_names(names: Iterable[str], flag: str) -> None:
    """Check that ``names`` are one or more distinct registered proxies.

    Args:
        names: the proxy names given.
        flag: the option or argument that gave them, for the message (e.g. ``"--proxies"``).

    Raises:
        ValueError: ``"<flag> names <problem>; <flag> must be distinct registered proxies
            (<the registered ones>)"``, the problem being the unregistered names, the names
            given more than once, or no name at all.
    """
    given = list(names)
    known = list_proxies()
    unknown = list(dict.fromkeys(n for n in given if n not in known))
    repeated = list(dict.fromkeys(n for n in given if given.count(n) > 1))
    if unknown:
        problem = f"{unknown}, which are not registered"
    elif repeated:
        problem = f"{repeated} more than once"
    elif not given:
        problem = "no proxy, but at least one proxy is needed"
    else:
        return
    raise ValueError(f"{flag} names {problem}; {flag} must be distinct registered proxies ({', '.join(known)})")
