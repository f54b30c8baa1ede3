"""ONNX export: the round trip through ONNX Runtime (or the onnx reference evaluator), a dynamic
batch axis, images in [0, 1], ensembles, the check before the file is kept, and the error that
names the missing extra."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from fne.cli import main
from fne.genotopheno import get_space
from fne.model_file import ONNX_INPUT, Ensemble, export_model, export_onnx, save_model

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")

MEAN, STD = [0.4, 0.5, 0.6], [0.2, 0.25, 0.3]


def _save(tmp_path: Path, members: int = 0) -> tuple[torch.nn.Module, Path]:
    space = get_space("nb201")
    kwargs = {**space.preset("score"), "in_channels": 3, "num_classes": 5}
    genotypes = [space.format(space.sample(np.random.default_rng(i))) for i in range(max(members, 1))]
    torch.manual_seed(0)
    nets = [space.build(space.parse(g), **kwargs).eval() for g in genotypes]
    net = Ensemble(nets).eval() if members else nets[0]
    path = save_model(
        tmp_path / "model.pt",
        net,
        space="nb201",
        genotype=genotypes[0],
        build_kwargs=kwargs,
        mean=MEAN,
        std=STD,
        classes=["a", "b", "c", "d", "e"],
        image_size=(16, 16),
        members=genotypes if members else (),
    )
    return net, path


def _expected(net: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    mean, std = torch.tensor(MEAN).view(1, -1, 1, 1), torch.tensor(STD).view(1, -1, 1, 1)
    with torch.no_grad():
        return net((x - mean) / std).numpy()


def _run(path: Path, x: torch.Tensor) -> np.ndarray:
    try:
        import onnxruntime
    except ImportError:
        from onnx.reference import ReferenceEvaluator

        return np.asarray(ReferenceEvaluator(str(path)).run(None, {ONNX_INPUT: x.numpy()})[0])
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {ONNX_INPUT: x.numpy()})[0])


def test_onnx_takes_images_in_0_1_of_any_batch_and_matches_the_network(tmp_path: Path) -> None:
    net, path = _save(tmp_path)
    written = export_model(path, format="onnx")
    assert written.path == tmp_path / "model.onnx" and written.path.is_file()
    assert written.checked_with in ("onnxruntime", "onnx.reference") and 0.0 <= written.max_abs_diff < 1e-3
    model = onnx.load(str(written.path))
    onnx.checker.check_model(model)
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert model.graph.input[0].name == ONNX_INPUT and batch.dim_param and not batch.dim_value
    metadata = {p.key: json.loads(p.value) for p in model.metadata_props if p.key.startswith("fne.")}
    assert metadata["fne.classes"] == ["a", "b", "c", "d", "e"] and metadata["fne.image_size"] == [3, 16, 16]
    for n in (1, 6):
        x = torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(n))
        assert np.allclose(_run(written.path, x), _expected(net, x), atol=1e-4)


def test_an_ensemble_exports_to_onnx(tmp_path: Path) -> None:
    net, path = _save(tmp_path, members=2)
    out = export_onnx(path, tmp_path / "deploy" / "ensemble.onnx")
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    got = _run(out, x)
    assert np.allclose(got, _expected(net, x), atol=1e-4)
    assert np.allclose(np.exp(got).sum(1), 1.0, atol=1e-4)  # log of the mean probabilities
    metadata = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert len(json.loads(metadata["fne.members"])) == 2


def test_the_reference_evaluator_checks_the_export_without_onnxruntime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, path = _save(tmp_path)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime raises ImportError
    written = export_model(path, format="onnx")
    assert written.checked_with == "onnx.reference" and written.max_abs_diff < 1e-3


def test_an_export_that_differs_from_the_network_is_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fne import model_file

    _, path = _save(tmp_path)
    real = model_file._onnx_runner

    def shifted(onnx_path: Path) -> tuple[Any, str]:
        run, name = real(onnx_path)
        return (lambda x: run(x) + 1.0), name

    monkeypatch.setattr(model_file, "_onnx_runner", shifted)
    with pytest.raises(ValueError, match="differs from the network by 1"):
        export_model(path, format="onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]  # no model.onnx, no temporary file


@pytest.mark.parametrize("missing", ["onnx", "onnxscript"])
def test_a_missing_onnx_package_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    _, path = _save(tmp_path)
    monkeypatch.setitem(sys.modules, missing, None)  # how Python marks a module that cannot be imported
    with pytest.raises(ValueError, match=rf"needs the '{missing}' package.*pip install 'fne\[onnx\]'"):
        export_model(path, format="onnx")
    assert not (tmp_path / "model.onnx").exists()


def test_fne_export_onnx_prints_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, path = _save(tmp_path, members=2)
    assert main(["export", "--model", str(path), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["onnx"] == str(tmp_path / "m.onnx") and (tmp_path / "m.onnx").is_file()
    assert printed["input"] == [3, 16, 16] and printed["ensemble"] == 2
    assert printed["checked_with"] in ("onnxruntime", "onnx.reference") and printed["max_abs_diff"] < 1e-3
