"""The shared name -> value registry."""

from __future__ import annotations

import pytest

from fne.registry import Registry


def test_add_get_remove_keep_order() -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("b", 2)
    reg.add("a", 1)
    assert reg.names() == ["b", "a"] and reg.get("a") == 1 and "b" in reg
    reg.remove("b")
    assert reg.names() == ["a"] and "b" not in reg


def test_duplicates_rejected_unless_replaced() -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("a", 1)
    with pytest.raises(ValueError, match="widget 'a' is already registered"):
        reg.add("a", 2)
    reg.add("a", 3, replace=True)
    assert reg.get("a") == 3


@pytest.mark.parametrize("call", ["get", "remove"])
def test_unknown_names_listed(call: str) -> None:
    reg: Registry[int] = Registry("widget")
    reg.add("a", 1)
    with pytest.raises(ValueError, match=r"unknown widget 'zz'; registered widgets: a"):
        getattr(reg, call)("zz")


@pytest.mark.parametrize("name", ["", None, 3])
def test_bad_names(name: object) -> None:
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        Registry("widget").add(name, 1)  # type: ignore[arg-type]
