"""The quality-cost front of a finished search: its table, and the member a user trains.

``result.json``'s ``front`` lists the cells no better-ranked cell matches on cost, best first,
each with its ``costs`` and ``quality`` (:mod:`fne.evolution.evolution`)::

    print(front_table(result))
    entry = front_member(result, index=2)                 # the third cell of the front
    entry = front_member(result, limits={"params": 0.5})  # the best front cell within 0.5 M params
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["read_result", "front_table", "front_member"]


def read_result(run: str | Path) -> dict[str, Any]:
    """The ``result.json`` of the search run in the folder ``run``.

    Raises:
        FileNotFoundError: no ``result.json`` there.
        ValueError: a file that is not a search result with a front.
    """
    path = Path(run) / "result.json"
    if not path.is_file():
        raise FileNotFoundError(f"no search result {path}: --from takes the --out folder of a finished fne search")
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not readable JSON ({err})") from None
    if not isinstance(result, dict) or not isinstance(result.get("front"), list) or "best" not in result:
        raise ValueError(f"{path} is not a search result with a front")
    return result


def _axis(result: Mapping[str, Any]) -> tuple[str, str]:
    budget = result.get("budget") or {}
    axis = budget.get("axis", "")
    unit = budget.get("costs", {}).get(axis, {}).get("unit", "")
    return axis, unit


def front_table(result: Mapping[str, Any], rows: int = 15) -> str:
    """The front as a text table (index, quality, every cost, the cell), at most ``rows`` lines of cells."""
    front = result.get("front", [])
    axis, unit = _axis(result)
    costs = list(dict.fromkeys(name for entry in front for name in entry.get("costs", {})))
    costs.sort(key=lambda name: name != axis)
    header = ["#", "quality", *[f"{n} ({unit})" if n == axis and unit else n for n in costs], "cell"]
    lines = []
    for i, entry in enumerate(front[:rows]):
        quality = entry.get("quality")
        values = [f"{entry.get('costs', {}).get(n, float('nan')):.4g}" for n in costs]
        lines.append([str(i), "" if quality is None else f"{quality:.3f}", *values, entry["arch"]])
    widths = [max(len(r[c]) for r in [header, *lines]) for c in range(len(header) - 1)]
    out = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=False)) + "  " + header[-1]]
    out += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in lines]
    if len(front) > rows:
        out.append(f"... {len(front) - rows} more in result.json")
    return "\n".join(out)


def front_member(
    result: Mapping[str, Any], index: int | None = None, limits: Mapping[str, float] | None = None
) -> dict[str, Any]:
    """A cell of the front: the one at ``index`` (0 = the best), or the best one within ``limits``.

    Raises:
        ValueError: an index off the front, a cost the front does not hold, or limits no member meets.
    """
    front = list(result.get("front", []))
    if not front:
        raise ValueError("the run's front is empty")
    if index is not None:
        if not 0 <= index < len(front):
            raise ValueError(f"--front {index} is off the front: it has {len(front)} cells (0 to {len(front) - 1})")
        return dict(front[index])
    limits = dict(limits or {})
    for name in limits:
        if any(name not in entry.get("costs", {}) for entry in front):
            held = sorted(front[0].get("costs", {}))
            raise ValueError(f"the run's front holds no {name!r} cost (it holds {', '.join(held) or 'none'})")
    for entry in front:
        if all(entry["costs"][name] <= top for name, top in limits.items()):
            return dict(entry)
    cheapest = {name: min(entry["costs"][name] for entry in front) for name in limits}
    detail = ", ".join(f"{n} <= {top:g} (cheapest on the front: {cheapest[n]:.4g})" for n, top in limits.items())
    raise ValueError(f"no cell of the run's front meets {detail}")
