"""A trained network in one file (``model.pt``), rebuilt from that file alone, and its export.

``model.pt`` holds the weights and everything needed to rebuild and use the network: the
space, the genotype text, the build arguments, the input normalisation, the image size and the
class names::

    save_model("runs/x/model.pt", net, space="nb201", genotype=arch, build_kwargs={"C": 16, "N": 5},
               mean=(0.49, 0.48, 0.45), std=(0.25, 0.24, 0.26), classes=names, image_size=(32, 32))
    net = fne.load_model("runs/x/model.pt")       # eval mode; net.fne_info has the rest
    export_model("runs/x/model.pt", format="onnx")  # runs/x/model.onnx, checked against the network

An :class:`Ensemble` of cells of one space is saved the same way, with ``members`` naming their
genotypes; it loads as one module whose output averages the members' class probabilities.

The network takes normalised images; every export takes float images in ``[0, 1]``
(``N x C x H x W``, any batch size) and normalises them itself, so a deployment needs only that
file. Formats (:data:`EXPORT_FORMATS`): TorchScript (``.ts``), a ``torch.export`` program
(``.pt2``, torch's successor to TorchScript) and ONNX (``.onnx``, for ONNX Runtime, TensorRT,
OpenVINO and other deployment runtimes; needs the ``onnx`` extra: ``pip install 'fne[onnx]'``).
Each export is compared with the network on random images before it is kept.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fne.files import PathLike, atomic_save_torch, atomic_write, atomic_write_bytes

logger = logging.getLogger(__name__)

__all__ = [
    "ModelInfo",
    "Ensemble",
    "Normalized",
    "Export",
    "save_model",
    "read_model_info",
    "load_model",
    "export_model",
    "export_torchscript",
    "export_program",
    "export_onnx",
    "EXPORT_FORMATS",
    "EXPORT_SUFFIXES",
    "ONNX_EXTRA",
]

EXPORT_FORMATS = ("torchscript", "program", "onnx")
EXPORT_SUFFIXES = {"torchscript": ".ts", "program": ".pt2", "onnx": ".onnx"}
"""The file each export format writes beside ``model.pt`` when no other path is given."""
DEFAULT_ATOL = {"torchscript": 1e-5, "program": 1e-5, "onnx": 1e-4}
"""Largest difference from the network an export may show, relative to its largest output (at least 1)."""
ONNX_EXTRA = "pip install 'fne[onnx]'"
ONNX_INPUT, ONNX_OUTPUT = "images", "logits"
"""The names of the ONNX model's input and output."""
MODEL_FORMAT = "fne-model"
MODEL_VERSION = 1
"""The version of a file holding one network (every fne reads it)."""
ENSEMBLE_VERSION = 2
"""The version of a file holding an ensemble (fne 0.3 and later)."""
READABLE_VERSIONS = (MODEL_VERSION, ENSEMBLE_VERSION)


@dataclass(frozen=True)
class ModelInfo:
    """What ``model.pt`` says about its network (all but the weights).

    Attributes:
        space: the search space of the cell(s).
        genotype: the cell's text; for an ensemble, its first member's.
        build_kwargs: the build arguments of the network (of every member of an ensemble).
        mean: per-channel normalisation mean of the input images.
        std: per-channel normalisation standard deviation.
        classes: class names, index = output unit.
        image_size: ``(height, width)`` of the images.
        extra: what the trainer recorded (epochs, test accuracy, ...).
        members: the genotypes of an ensemble's members, in order (empty: one network).
    """

    space: str
    genotype: str
    build_kwargs: dict[str, Any]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...]
    image_size: tuple[int, int]
    extra: dict[str, Any] = field(default_factory=dict)
    members: tuple[str, ...] = ()

    @property
    def channels(self) -> int:
        """Image channels the network takes."""
        return len(self.mean)

    @property
    def is_ensemble(self) -> bool:
        """Whether the file holds an ensemble of networks."""
        return bool(self.members)


class Ensemble(nn.Module):
    """Networks whose class probabilities are averaged.

    The output is the logarithm of the members' mean softmax probabilities: its softmax is that
    mean and its argmax the ensemble's prediction, so it serves wherever one network's logits do
    (accuracy, cross-entropy, an export's consumer applying softmax).

    Raises:
        ValueError: no member.
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        log_probs = torch.stack([F.log_softmax(member(x), dim=1) for member in self.members])
        return torch.logsumexp(log_probs, dim=0) - math.log(len(self.members))


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
    members: Sequence[str] = (),
) -> Path:
    """Write ``net`` and how to rebuild it to ``path`` (atomically: a crash leaves no half file).

    Args:
        path: the file to write.
        net: the network, or an :class:`Ensemble` when ``members`` is given.
        space: the search space of the cell(s).
        genotype: the cell's text (of an ensemble: its first member's).
        build_kwargs: the build arguments of the network (of each member).
        mean: per-channel normalisation mean.
        std: per-channel normalisation standard deviation.
        classes: class names.
        image_size: ``(height, width)``.
        extra: JSON-ready facts to keep with the network.
        members: the genotype of each member of the :class:`Ensemble` ``net``, in order.

    Raises:
        ValueError: ``mean`` and ``std`` of different lengths, an ``image_size`` that is not two
            sizes, or ``members`` that do not describe ``net``.
    """
    if len(mean) != len(std) or not mean:
        raise ValueError(f"mean and std must give one value per channel, got {list(mean)} and {list(std)}")
    if len(image_size) != 2:
        raise ValueError(f"image_size must be (height, width), got {list(image_size)}")
    members = tuple(map(str, members))
    if members and (not isinstance(net, Ensemble) or len(net.members) != len(members)):
        raise ValueError(f"members names {len(members)} genotypes but the network is not an Ensemble of as many")
    if isinstance(net, Ensemble) and not members:
        raise ValueError("an Ensemble is saved with members: the genotype of each of its networks")
    info = ModelInfo(
        space,
        genotype,
        dict(build_kwargs),
        tuple(map(float, mean)),
        tuple(map(float, std)),
        tuple(map(str, classes)),
        (int(image_size[0]), int(image_size[1])),
        dict(extra or {}),
        members,
    )
    plain = _plain(asdict(info))
    if not members:
        del plain["members"]  # a file of one network stays readable by every fne
    doc = {
        "format": MODEL_FORMAT,
        "version": ENSEMBLE_VERSION if members else MODEL_VERSION,
        "info": plain,
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
    if doc.get("version") not in READABLE_VERSIONS:
        raise ValueError(
            f"{path} has model file version {doc.get('version')!r}; this fne reads "
            f"{' and '.join(map(str, READABLE_VERSIONS))}"
        )
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
            tuple(map(str, info.get("members", ()))),
        )
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path}: model information is incomplete ({err})") from None


def load_model(path: PathLike, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the network of a model file, with its weights, in eval mode on ``device``.

    The returned module has ``fne_info`` (:class:`ModelInfo`): space, genotype, normalisation,
    class names. It takes images normalised with ``fne_info.mean`` / ``fne_info.std``. A file
    holding an ensemble gives an :class:`Ensemble`.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: not an fne model file, or weights that do not fit the genotype's network.
    """
    from fne.genotopheno import get_space

    doc, info = _read(path), read_model_info(path)
    space = get_space(info.space)
    net: nn.Module
    if info.is_ensemble:
        net = Ensemble([space.build(space.parse(g), **info.build_kwargs) for g in info.members])
    else:
        net = space.build(space.parse(info.genotype), **info.build_kwargs)
    try:
        net.load_state_dict(doc["state_dict"])
    except RuntimeError as err:
        cells = ", ".join(map(repr, info.members)) if info.is_ensemble else repr(info.genotype)
        raise ValueError(f"{path}: the weights do not fit the network of {cells} ({err})") from None
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


@dataclass(frozen=True)
class Export:
    """An export written by :func:`export_model`.

    Attributes:
        path: the file written.
        format: one of :data:`EXPORT_FORMATS`.
        max_abs_diff: the largest absolute difference between the export's outputs and the
            network's on random images in ``[0, 1]`` (a batch of another size than the one traced).
        checked_with: what ran the export for that check (``torch.jit``, ``torch.export``,
            ``onnxruntime`` or ``onnx.reference``).
    """

    path: Path
    format: str
    max_abs_diff: float
    checked_with: str


Runner = Callable[[torch.Tensor], torch.Tensor]


def _wrapped(model_path: PathLike) -> tuple[nn.Module, ModelInfo]:
    net = load_model(model_path)
    info: ModelInfo = net.fne_info  # type: ignore[assignment]  # set by load_model; nn.Module types it as a tensor
    return Normalized(net, info.mean, info.std).eval(), info


def _images(info: ModelInfo, n: int, seed: int) -> torch.Tensor:
    return torch.rand(n, info.channels, *info.image_size, generator=torch.Generator().manual_seed(seed))


def _checked(model_path: PathLike, run: Runner, wrapped: nn.Module, info: ModelInfo, atol: float) -> float:
    """The largest difference between ``run`` and ``wrapped`` on 3 random images.

    Raises:
        ValueError: the difference exceeds ``atol`` times the largest output (at least 1).
    """
    check = _images(info, 3, seed=1)
    with torch.no_grad():
        expected = wrapped(check)
        gap = float((run(check) - expected).abs().max())
    allowed = atol * max(1.0, float(expected.abs().max()))
    if not gap <= allowed:
        raise ValueError(f"the export of {model_path} differs from the network by {gap:.3g} (allowed: {allowed:.3g})")
    return gap


def export_model(
    model_path: PathLike, out: PathLike | None = None, *, format: str = "torchscript", atol: float | None = None
) -> Export:
    """Export a model file in ``format``; the export takes float images in ``[0, 1]`` of any batch size.

    The export is run on random images and compared with the network before it is written.

    Args:
        model_path: the ``model.pt`` to export.
        out: the file to write (default: beside ``model_path``, suffix from :data:`EXPORT_SUFFIXES`).
        format: one of :data:`EXPORT_FORMATS`.
        atol: the largest difference allowed, relative to the largest output when that is
            above 1 (default: :data:`DEFAULT_ATOL` of the format).

    Raises:
        ValueError: an unknown format, the ``onnx`` extra missing for ONNX, or an export whose
            outputs differ from the network's.
        FileNotFoundError: no file at ``model_path``.
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(f"export format must be one of {', '.join(EXPORT_FORMATS)}, got {format!r}")
    if format == "onnx":
        _onnx_modules()  # before the network is loaded: a missing extra is named at once
    path = Path(out) if out is not None else Path(model_path).with_suffix(EXPORT_SUFFIXES[format])
    tolerance = DEFAULT_ATOL[format] if atol is None else atol
    wrapped, info = _wrapped(model_path)
    writers = {"torchscript": _write_torchscript, "program": _write_program, "onnx": _write_onnx}
    gap, checked_with = writers[format](model_path, path, wrapped, info, tolerance)
    logger.info(
        "exported %s to %s (%s; float images in [0, 1], %d x %d x %d; largest difference %.3g, %s)",
        model_path,
        path,
        format,
        info.channels,
        *info.image_size,
        gap,
        checked_with,
    )
    return Export(path, format, gap, checked_with)


def export_torchscript(model_path: PathLike, out: PathLike, *, atol: float = DEFAULT_ATOL["torchscript"]) -> Path:
    """Export a model file to TorchScript (:func:`export_model` with ``format="torchscript"``).

    Raises:
        ValueError: the traced module's outputs differ from the network's.
    """
    return export_model(model_path, out, format="torchscript", atol=atol).path


def export_program(model_path: PathLike, out: PathLike, *, atol: float = DEFAULT_ATOL["program"]) -> Path:
    """Export a model file as a ``torch.export`` program (``torch.export.load(out).module()``).

    Raises:
        ValueError: the exported program's outputs differ from the network's.
    """
    return export_model(model_path, out, format="program", atol=atol).path


def export_onnx(model_path: PathLike, out: PathLike, *, atol: float = DEFAULT_ATOL["onnx"]) -> Path:
    """Export a model file to ONNX (input ``images``, output ``logits``, dynamic batch axis).

    Raises:
        ValueError: the ``onnx`` extra is not installed, or the ONNX model's outputs differ
            from the network's.
    """
    return export_model(model_path, out, format="onnx", atol=atol).path


def _write_torchscript(
    model_path: PathLike, out: Path, wrapped: nn.Module, info: ModelInfo, atol: float
) -> tuple[float, str]:
    with torch.no_grad(), warnings.catch_warnings():
        # shape checks of fixed-size ops are constants of the trace; the deprecation notice is torch's
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.trace.* is deprecated")
        traced = torch.jit.trace(wrapped, _images(info, 2, seed=0), check_trace=False)
    gap = _checked(model_path, traced, wrapped, info, atol)
    atomic_write(out, lambda tmp: traced.save(str(tmp)))
    return gap, "torch.jit"


def _batch_dim() -> Any:
    return torch.export.Dim("batch", min=1, max=1 << 16)


def _write_program(
    model_path: PathLike, out: Path, wrapped: nn.Module, info: ModelInfo, atol: float
) -> tuple[float, str]:
    program = torch.export.export(wrapped, (_images(info, 2, seed=0),), dynamic_shapes=({0: _batch_dim()},))
    gap = _checked(model_path, program.module(), wrapped, info, atol)
    buffer = io.BytesIO()  # torch.export.save wants a name ending in .pt2, which the temporary file has not
    torch.export.save(program, buffer)
    atomic_write_bytes(out, buffer.getvalue())
    return gap, "torch.export"


def _onnx_modules() -> None:
    """Check that the ONNX exporter's packages are installed.

    Raises:
        ValueError: naming the missing package and the extra that installs it.
    """
    for name in ("onnx", "onnxscript"):
        try:
            importlib.import_module(name)
        except ImportError:
            raise ValueError(
                f"ONNX export needs the {name!r} package, which is not installed: {ONNX_EXTRA} "
                "(installs onnx, onnxscript and onnxruntime)"
            ) from None


QUIETED_ONNX_LOGGERS = {
    "torch.onnx._internal.exporter._registration": logging.ERROR,  # torchvision operators it skips
    "onnx_ir": logging.WARNING,  # each optimisation pass
    "onnxscript": logging.WARNING,
}


@contextlib.contextmanager
def _quiet_onnx_exporter() -> Iterator[None]:
    """Keep torch's ONNX exporter and its optimiser from logging notes that do not concern fne's
    networks (:data:`QUIETED_ONNX_LOGGERS`), and from their deprecation warnings."""
    loggers = {logging.getLogger(name): level for name, level in QUIETED_ONNX_LOGGERS.items()}
    before = {log: log.level for log in loggers}
    for log, level in loggers.items():
        log.setLevel(max(level, log.getEffectiveLevel()))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            yield
    finally:
        for log, level in before.items():
            log.setLevel(level)


def _onnx_runner(path: Path) -> tuple[Runner, str]:
    """A function running the ONNX model in ``path``: ONNX Runtime when installed, else
    the ``onnx`` package's reference evaluator (slow but always there)."""
    session: Any
    try:
        onnxruntime = importlib.import_module("onnxruntime")
    except ImportError:
        reference = importlib.import_module("onnx.reference")
        session, name = reference.ReferenceEvaluator(str(path)), "onnx.reference"
    else:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = "onnxruntime"

    def run(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(np.asarray(session.run(None, {ONNX_INPUT: x.numpy()})[0]))

    return run, name


def _onnx_metadata(info: ModelInfo) -> dict[str, str]:
    """What the ONNX file says about its network (``metadata_props``, JSON texts): the class of
    each output, the image size and the cell(s)."""
    facts: dict[str, Any] = {
        "classes": list(info.classes),
        "image_size": [info.channels, *info.image_size],
        "input": "float images in [0, 1], N x C x H x W",
        "space": info.space,
        "genotype": info.genotype,
    }
    if info.is_ensemble:
        facts["members"] = list(info.members)
        facts["output"] = "log of the members' mean class probabilities"
    return {f"fne.{key}": json.dumps(value) for key, value in facts.items()}


def _write_onnx(model_path: PathLike, out: Path, wrapped: nn.Module, info: ModelInfo, atol: float) -> tuple[float, str]:
    with _quiet_onnx_exporter():
        program = torch.onnx.export(
            wrapped,
            (_images(info, 2, seed=0),),
            dynamo=True,
            input_names=[ONNX_INPUT],
            output_names=[ONNX_OUTPUT],
            dynamic_shapes=({0: _batch_dim()},),
            verbose=False,
        )
    if program is None:
        raise ValueError(f"torch.onnx.export returned no ONNX program for {model_path}")
    program.model.metadata_props.update(_onnx_metadata(info))
    checked: dict[str, Any] = {}

    def write_checked(tmp: Path) -> None:
        program.save(str(tmp))
        run, checked["with"] = _onnx_runner(tmp)
        checked["gap"] = _checked(model_path, run, wrapped, info, atol)

    atomic_write(out, write_checked)
    return checked["gap"], checked["with"]
