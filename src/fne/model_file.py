"""A trained network in one file (``model.pt``), rebuilt from that file alone, and its export.

``model.pt`` holds the weights and everything needed to rebuild and use the network: the
space, the genotype text, the build arguments, the input normalisation, the image size and the
class names::

    save_model("runs/x/model.pt", net, space="nb201", genotype=arch, build_kwargs={"C": 16, "N": 5},
               mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26), classes=names, image_size=(32, 32))
    net = fne.load_model("runs/x/model.pt")       # eval mode; net.fne_info has the rest
    export_torchscript("runs/x/model.pt", "runs/x/model.ts")

The network takes normalised images; the TorchScript export takes float images in ``[0, 1]``
(``N x C x H x W``) and normalises them itself, so a deployment needs only that file.
:func:`export_program` writes the same module as a ``torch.export`` program (``.pt2``, any
batch size), torch's successor to TorchScript.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fne.files import PathLike, atomic_save_torch, atomic_write

logger = logging.getLogger(__name__)

__all__ = [
    "ModelInfo",
    "save_model",
    "read_model_info",
    "load_model",
    "export_torchscript",
    "export_program",
    "Normalized",
    "EXPORT_FORMATS",
]

EXPORT_FORMATS = ("torchscript", "program")
MODEL_FORMAT = "fne-model"
MODEL_VERSION = 1


@dataclass(frozen=True)
class ModelInfo:
    """What ``model.pt`` says about its network (all but the weights)."""

    space: str
    genotype: str
    build_kwargs: dict[str, Any]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...]
    image_size: tuple[int, int]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def channels(self) -> int:
        """Image channels the network takes."""
        return len(self.mean)


def save_model(
    path: PathLike,
    net: nn.Module,
    *,
    space: str,
    genotype: str,
    build_kwargs: dict[str, Any],
    mean: Sequence[float],
    std: Sequence[float],
    classes: Sequence[str],
    image_size: Sequence[int],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``net`` and how to rebuild it to ``path`` (atomically: a crash leaves no half file).

    Raises:
        ValueError: ``mean`` and ``std`` of different lengths or an ``image_size`` that is not two sizes.
    """
    if len(mean) != len(std) or not mean:
        raise ValueError(f"mean and std must give one value per channel, got {list(mean)} and {list(std)}")
    if len(image_size) != 2:
        raise ValueError(f"image_size must be (height, width), got {list(image_size)}")
    info = ModelInfo(
        space,
        genotype,
        dict(build_kwargs),
        tuple(map(float, mean)),
        tuple(map(float, std)),
        tuple(map(str, classes)),
        (int(image_size[0]), int(image_size[1])),
        dict(extra or {}),
    )
    doc = {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "info": _plain(asdict(info)),
        "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()},
    }
    return atomic_save_torch(path, doc)


def _plain(value: Any) -> Any:
    """Tuples as lists, so that the file holds only plain containers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _read(path: PathLike) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {path} does not exist")
    try:
        doc = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file
        raise ValueError(f"{path} is not a readable model file ({type(err).__name__}: {err})") from None
    if not isinstance(doc, dict) or doc.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path} is not an fne model file (no {MODEL_FORMAT!r} format mark)")
    if doc.get("version") != MODEL_VERSION:
        raise ValueError(f"{path} has model file version {doc.get('version')!r}; this fne reads {MODEL_VERSION}")
    if not isinstance(doc.get("info"), dict) or not isinstance(doc.get("state_dict"), dict):
        raise ValueError(f"{path} is corrupt: 'info' or 'state_dict' is missing")
    return doc


def read_model_info(path: PathLike) -> ModelInfo:
    """The :class:`ModelInfo` of a model file.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not an fne model file, another version, or a damaged one.
    """
    info = _read(path)["info"]
    try:
        return ModelInfo(
            info["space"],
            info["genotype"],
            dict(info["build_kwargs"]),
            tuple(info["mean"]),
            tuple(info["std"]),
            tuple(info["classes"]),
            tuple(info["image_size"]),
            dict(info.get("extra", {})),
        )
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path}: model information is incomplete ({err})") from None


def load_model(path: PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the network of a model file, with its weights, in eval mode on ``device``.

    The returned module has ``fne_info`` (:class:`ModelInfo`): space, genotype, normalisation,
    class names. It takes images normalised with ``fne_info.mean`` / ``fne_info.std``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not an fne model file, or weights that do not fit the genotype's network.
    """
    from fne.genotopheno import get_space

    doc, info = _read(path), read_model_info(path)
    space = get_space(info.space)
    net = space.build(space.parse(info.genotype), **info.build_kwargs)
    try:
        net.load_state_dict(doc["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"{path}: the weights do not fit the network of {info.genotype!r} ({err})") from None
    net.fne_info = info  # type: ignore[assignment]  # nn.Module types attributes as tensors or modules
    return net.to(device).eval()


class Normalized(nn.Module):
    """``net`` after per-channel normalisation of float images in ``[0, 1]``."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, net: nn.Module, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(list(mean)).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std)).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def _wrapped(model_path: PathLike) -> tuple[nn.Module, ModelInfo]:
    net = load_model(model_path)
    info: ModelInfo = net.fne_info  # type: ignore[assignment]  # set by load_model; nn.Module types it as a tensor
    return Normalized(net, info.mean, info.std).eval(), info


def _check_export(model_path: PathLike, exported: Any, wrapped: nn.Module, info: ModelInfo, atol: float) -> None:
    check = torch.rand(3, info.channels, *info.image_size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        gap = float((exported(check) - wrapped(check)).abs().max())
    if gap > atol:
        raise ValueError(f"the export of {model_path} differs from the network by {gap:.3g}")


def export_program(model_path: PathLike, out: PathLike, *, atol: float = 1e-5) -> Path:
    """Export a model file as a ``torch.export`` program (``torch.export.load(out).module()``);
    it takes float images in ``[0, 1]`` of any batch size.

    Raises:
        ValueError: the exported program's outputs differ from the network's.
    """
    wrapped, info = _wrapped(model_path)
    example = torch.rand(2, info.channels, *info.image_size, generator=torch.Generator().manual_seed(0))
    batch = torch.export.Dim("batch", min=1, max=1 << 16)
    program = torch.export.export(wrapped, (example,), dynamic_shapes=({0: batch},))
    _check_export(model_path, program.module(), wrapped, info, atol)
    path = atomic_write(out, lambda tmp: torch.export.save(program, str(tmp)))
    logger.info("exported %s to %s (torch.export program, float images in [0, 1])", model_path, path)
    return path


def export_torchscript(model_path: PathLike, out: PathLike, *, atol: float = 1e-5) -> Path:
    """Export a model file to TorchScript; the export takes float images in ``[0, 1]``.

    The traced module is checked against the original on random images before it is kept.

    Raises:
        ValueError: the traced module's outputs differ from the network's.
    """
    wrapped, info = _wrapped(model_path)
    example = torch.rand(2, info.channels, *info.image_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), warnings.catch_warnings():
        # shape checks of fixed-size ops are constants of the trace; the deprecation notice is torch's
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.trace.* is deprecated")
        traced = torch.jit.trace(wrapped, example, check_trace=False)
    _check_export(model_path, traced, wrapped, info, atol)
    path = atomic_write(out, lambda tmp: traced.save(str(tmp)))
    logger.info(
        "exported %s to %s (takes float images in [0, 1], %d x %d x %d)",
        model_path,
        path,
        info.channels,
        *info.image_size,
    )
    return path
