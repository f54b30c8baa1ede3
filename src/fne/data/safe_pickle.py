"""Reading the pickled batch files of the official CIFAR archives without running foreign code."""

from __future__ import annotations

import pickle
from pathlib import Path

__all__ = ["BatchUnpickler", "unpickle_dict"]

# What a damaged pickle raises: bad opcodes or lengths (a huge length is a MemoryError or an
# OverflowError before anything is allocated), wrong argument types, unknown codec names, and
# numpy's SystemError / RuntimeError for an array or dtype rebuilt from a damaged state.
_PICKLE_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    AttributeError,
    LookupError,
    OverflowError,
    MemoryError,
    SystemError,
    RuntimeError,
)


class BatchUnpickler(pickle.Unpickler):
    """Unpickler that only builds the numpy arrays and bytes found in CIFAR batch files."""

    _ALLOWED = {
        ("_codecs", "encode"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch file")
        if module.startswith("numpy.core."):
            try:
                return super().find_class("numpy._core." + module[len("numpy.core.") :], name)
            except (ImportError, AttributeError):
                pass
        return super().find_class(module, name)


def unpickle_dict(path: Path, what: str, remedy: str) -> dict:
    """Read one pickled batch file into a dict with bytes keys.

    Args:
        path: The file.
        what: What the file should be, for messages (``"CIFAR-10 batch file"``).
        remedy: What to do about a damaged file, appended to messages.

    Raises:
        ValueError: the file is not a readable pickle of a dict of arrays, lists and bytes.
    """
    try:
        with open(path, "rb") as fh:
            obj = BatchUnpickler(fh, encoding="bytes").load()
    except _PICKLE_ERRORS as err:
        reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
        raise ValueError(f"{path}: not a readable {what} ({reason}); {remedy}") from err
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(obj).__name__}; {remedy}")
    return obj
