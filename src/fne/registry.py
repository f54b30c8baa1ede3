"""A name -> value registry shared by ops, proxies, search spaces and variation operators."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["Registry"]


class Registry(Generic[T]):
    """Values by name, in registration order; duplicates and unknown names raise ``ValueError``.

    Args:
        kind: what is registered, used in error messages (e.g. ``"op"``).
        plural: the plural of ``kind`` in messages; default ``kind + "s"`` (pass
            ``"proxies"`` for ``"proxy"``).

    Raises:
        ValueError: for an empty ``kind`` or ``plural``.
    """

    def __init__(self, kind: str, plural: str | None = None) -> None:
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"registry kind must be a non-empty string, got {kind!r}")
        if plural is not None and (not isinstance(plural, str) or not plural):
            raise ValueError(f"registry plural must be a non-empty string or None, got {plural!r}")
        self.kind = kind
        self.plural = plural if plural is not None else f"{kind}s"
        self._items: dict[str, T] = {}

    def add(self, name: str, value: T, *, replace: bool = False) -> T:
        """Register ``value`` under ``name`` (a taken name raises unless ``replace``)."""
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")
        if name in self._items and not replace:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = value
        return value

    def remove(self, name: str) -> None:
        """Unregister ``name``."""
        self.get(name)
        del self._items[name]

    def get(self, name: str) -> T:
        """The value registered under ``name``; the error lists the registered names."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            known = ", ".join(self.names()) or "none"
            raise ValueError(f"unknown {self.kind} {name!r}; registered {self.plural}: {known}") from None

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
