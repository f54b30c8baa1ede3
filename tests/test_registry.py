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


def test_plural_names_the_registered_kind() -> None:
    reg: Registry[int] = Registry("proxy", plural="proxies")
    reg.add("a", 1)
    assert reg.plural == "proxies"
    with pytest.raises(ValueError, match=r"^unknown proxy 'zz'; registered proxies: a$"):
        reg.get("zz")
    assert Registry("widget").plural == "widgets"


@pytest.mark.parametrize("kind, plural", [("", None), (None, None), ("proxy", "")])
def test_bad_kind_or_plural(kind: object, plural: object) -> None:
    with pytest.raises(ValueError, match="registry (kind|plural) must be a non-empty string"):
        Registry(kind, plural=plural)  # type: ignore[arg-type]


def test_builtin_registries_read_well() -> None:
    from fne.evolution.fitness import get_proxy
    from fne.genotopheno import get_op, get_space
    from fne.genotopheno.variation import register_variation

    def vary(space_name: str) -> None:  # variation operators are looked up by their space's name
        register_variation(space_name, crossovers={"c": lambda *a: a[1]}, mutations={"m": lambda *a: a[1]})

    cases = [
        (get_proxy, "unknown proxy 'nope'; registered proxies: "),
        (get_space, "unknown search space 'nope'; registered search spaces: nb201"),
        (get_op, "unknown op 'nope'; registered ops: "),
        (vary, "unknown search space 'nope'; registered search spaces: nb201"),
    ]
    for lookup, message in cases:
        with pytest.raises(ValueError) as info:
            lookup("nope")
        assert str(info.value).startswith(message), str(info.value)
        assert "proxys" not in str(info.value)
