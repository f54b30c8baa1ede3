"""Axis labels of proxy values, and objectives turned back into them.

Objectives are minimised: a higher-is-better proxy's objective is minus its value. Plots
show raw proxy values instead, labelled with the unit and direction each proxy declares
when it is registered (:func:`fne.evolution.fitness.register_proxy`)::

    proxy_label("params")   # 'params (M parameters, higher is better)'
    proxy_label("ntk")      # 'ntk (condition number, lower is better; log scale)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from fne.evolution.fitness.registry import get_proxy, list_proxies

__all__ = [
    "PickLike",
    "proxy_unit",
    "higher_is_better",
    "proxy_label",
    "uses_log_scale",
    "objectives_to_raw",
    "scores_to_raw",
    "pick_values",
]


PickLike = Mapping[str, float] | Sequence[float]
"""The pick as its ``{proxy: value}`` scores or as raw values in the order of the names."""


def proxy_unit(name: str) -> str | None:
    """The unit a registered proxy declares; ``None`` when it declares none or is not registered."""
    if name not in list_proxies():
        return None
    return get_proxy(name).unit


def higher_is_better(name: str) -> bool | None:
    """The registered direction of ``name``; ``None`` when no such proxy is registered."""
    if name not in list_proxies():
        return None
    return get_proxy(name).higher_is_better


def uses_log_scale(name: str) -> bool:
    """Whether ``name``'s values are shown on a logarithmic axis (as its registration declares)."""
    return name in list_proxies() and get_proxy(name).log_scale


def proxy_label(name: str, log_scale: bool | None = None) -> str:
    """Axis label of a proxy: its name, unit, direction and, when logarithmic, the scale.

    Args:
        name: the proxy's name (registered or not).
        log_scale: whether the axis is logarithmic; ``None`` takes the proxy's default.

    Returns:
        e.g. ``"synflow (log synaptic flow, higher is better)"``; an unregistered name
        reads ``"name (objective, minimised)"``, its direction being unknown.
    """
    hib = higher_is_better(name)
    unit = proxy_unit(name)
    parts = [] if unit is None else [unit]
    if hib is None:
        parts = ["objective", "minimised"]
    else:
        parts.append("higher is better" if hib else "lower is better")
    text = ", ".join(parts)
    logarithmic = uses_log_scale(name) if log_scale is None else log_scale
    if logarithmic:
        text += "; log scale"
    return f"{name} ({text})"


def _signs(names: Sequence[str]) -> np.ndarray:
    return np.array([-1.0 if higher_is_better(n) else 1.0 for n in names])


def objectives_to_raw(objectives: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Raw proxy values of an ``(n, k)`` objective matrix (higher-is-better columns negated back).

    Non-finite entries become NaN. Columns of unregistered names are kept as they are.

    Raises:
        ValueError: the matrix does not have one column per name.
    """
    F = np.array(objectives, dtype=float, ndmin=2)
    if F.size == 0:
        return F.reshape(0, len(names))
    if F.shape[1] != len(names):
        raise ValueError(f"objectives have {F.shape[1]} columns but {len(names)} names were given: {list(names)}")
    raw = F * _signs(names)
    raw[~np.isfinite(raw)] = np.nan
    return raw


def scores_to_raw(scores: Sequence[Mapping[str, float]], names: Sequence[str]) -> np.ndarray:
    """``(n, k)`` matrix of the proxy values in ``scores`` (NaN for missing or non-finite ones)."""
    raw = np.array([[float(row.get(n, np.nan)) for n in names] for row in scores], dtype=float)
    raw = raw.reshape(len(scores), len(names))
    raw[~np.isfinite(raw)] = np.nan
    return raw


def pick_values(pick: PickLike | None, names: Sequence[str]) -> np.ndarray | None:
    """Raw values of the pick from its ``{proxy: value}`` scores or a sequence of raw values.

    Raises:
        ValueError: a sequence whose length is not the number of names.
    """
    if pick is None:
        return None
    if isinstance(pick, Mapping):
        return scores_to_raw([pick], names)[0]
    values = np.array(pick, dtype=float).reshape(-1)
    if values.size != len(names):
        raise ValueError(f"pick has {values.size} values but {len(names)} proxies were given: {list(names)}")
    values[~np.isfinite(values)] = np.nan
    return values
