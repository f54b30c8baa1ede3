"""``model.pt``: save, load from the file alone, ensembles, TorchScript and torch.export exports, corrupt files refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import fne
from fne.genotopheno import get_space, list_spaces
from fne.model_file import Ensemble, export_model, export_program, export_torchscript, read_model_info, save_model


def _saved(tmp_path: Path, space_name: str, channels: int = 1, classes: int = 4) -> tuple:
    space = get_space(space_name)
    genotype = space.sample(np.random.default_rng(0))
    kwargs = {**space.preset("score"), "in_channels": channels, "num_classes": classes}
    torch.manual_seed(0)
    net = space.build(genotype, **kwargs).eval()
    path = save_model(
        tmp_path / "model.pt",
        net,
        space=space_name,
        genotype=space.format(genotype),
        build_kwargs=kwargs,
        mean=[0.3] * channels,
        std=[0.2] * channels,
        classes=[f"c{i}" for i in range(classes)],
        image_size=(20, 20),
        extra={"epochs": 1},
    )
    return net, path


@pytest.mark.parametrize("space_name", list_spaces())
def test_a_model_file_rebuilds_the_same_network(tmp_path: Path, space_name: str) -> None:
    net, path = _saved(tmp_path, space_name)
    loaded = fne.load_model(path)
    x = torch.randn(3, 1, 20, 20)
    with torch.no_grad():
        assert torch.equal(net(x), loaded(x))
    assert not loaded.training
    info = loaded.fne_info
    assert info.classes == ("c0", "c1", "c2", "c3") and info.image_size == (20, 20) and info.channels == 1
    assert info.extra == {"epochs": 1} and read_model_info(path) == info


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
@pytest.mark.parametrize("space_name", list_spaces())
def test_torchscript_export_normalises_and_matches(tmp_path: Path, space_name: str) -> None:
    net, path = _saved(tmp_path, space_name)
    exported = torch.jit.load(str(export_torchscript(path, tmp_path / "model.ts")))
    x = torch.rand(5, 1, 20, 20)
    with torch.no_grad():
        assert torch.allclose(exported(x), net((x - 0.3) / 0.2), atol=1e-5)


def test_bad_model_files_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="model file .*missing.pt does not exist"):
        fne.load_model(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a model")
    with pytest.raises(ValueError, match="garbage.pt is not a readable model file"):
        fne.load_model(garbage)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(1)}, other)
    with pytest.raises(ValueError, match="other.pt is not an fne model file"):
        fne.load_model(other)


def test_weights_of_another_cell_are_refused(tmp_path: Path) -> None:
    _, path = _saved(tmp_path, "nb201")
    doc = torch.load(path, weights_only=True)
    doc["info"]["genotype"] = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    torch.save(doc, path)
    with pytest.raises(ValueError, match="the weights do not fit the network"):
        fne.load_model(path)


def test_program_export_takes_any_batch(tmp_path: Path) -> None:
    net, path = _saved(tmp_path, "nb201")
    program = torch.export.load(str(export_program(path, tmp_path / "model.pt2"))).module()
    for n in (1, 7):
        x = torch.rand(n, 1, 20, 20)
        with torch.no_grad():
            assert torch.allclose(program(x), net((x - 0.3) / 0.2), atol=1e-5)


def _ensemble(tmp_path: Path, members: int = 2) -> tuple[Ensemble, Path]:
    space = get_space("nb201")
    kwargs = {**space.preset("score"), "in_channels": 1, "num_classes": 4}
    genotypes = [space.format(space.sample(np.random.default_rng(i))) for i in range(members)]
    torch.manual_seed(0)
    nets = [space.build(space.parse(g), **kwargs) for g in genotypes]
    ensemble = Ensemble(nets).eval()
    path = save_model(
        tmp_path / "model.pt",
        ensemble,
        space="nb201",
        genotype=genotypes[0],
        build_kwargs=kwargs,
        mean=[0.3],
        std=[0.2],
        classes=["a", "b", "c", "d"],
        image_size=(20, 20),
        members=genotypes,
    )
    return ensemble, path


def test_an_ensemble_averages_its_members_probabilities() -> None:
    torch.manual_seed(0)
    members = [torch.nn.Linear(5, 3), torch.nn.Linear(5, 3), torch.nn.Linear(5, 3)]
    x = torch.randn(4, 5)
    with torch.no_grad():
        out = Ensemble(members)(x)
        mean = torch.stack([m(x).softmax(1) for m in members]).mean(0)
    assert torch.allclose(out.softmax(1), mean, atol=1e-6) and torch.allclose(out.exp().sum(1), torch.ones(4))
    with pytest.raises(ValueError, match="at least one member"):
        Ensemble([])


def test_an_ensemble_file_rebuilds_the_ensemble(tmp_path: Path) -> None:
    ensemble, path = _ensemble(tmp_path, members=3)
    loaded = fne.load_model(path)
    assert isinstance(loaded, Ensemble) and len(loaded.members) == 3 and not loaded.training
    x = torch.randn(2, 1, 20, 20)
    with torch.no_grad():
        assert torch.equal(loaded(x), ensemble(x))
    info = read_model_info(path)
    assert info.is_ensemble and info.members[0] == info.genotype and len(info.members) == 3
    assert torch.load(path, weights_only=True)["version"] == 2


def test_a_single_network_file_stays_version_1(tmp_path: Path) -> None:
    _, path = _saved(tmp_path, "nb201")
    doc = torch.load(path, weights_only=True)
    assert doc["version"] == 1 and "members" not in doc["info"]
    assert not read_model_info(path).is_ensemble
    doc["version"] = 9
    torch.save(doc, path)
    with pytest.raises(ValueError, match="model file version 9; this fne reads 1 and 2"):
        fne.load_model(path)


def test_members_must_describe_the_network(tmp_path: Path) -> None:
    net, _ = _saved(tmp_path, "nb201")
    common = dict(space="nb201", genotype="g", build_kwargs={}, mean=[0.3], std=[0.2], classes=["a"], image_size=(8, 8))
    with pytest.raises(ValueError, match="not an Ensemble"):
        save_model(tmp_path / "x.pt", net, members=["g", "h"], **common)
    ensemble = Ensemble([net, net])
    with pytest.raises(ValueError, match="not an Ensemble of as many"):
        save_model(tmp_path / "x.pt", ensemble, members=["g"], **common)
    with pytest.raises(ValueError, match="saved with members"):
        save_model(tmp_path / "x.pt", ensemble, **common)
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated")
def test_an_ensemble_exports_to_torchscript_and_program(tmp_path: Path) -> None:
    ensemble, path = _ensemble(tmp_path)
    written = export_model(path)  # TorchScript beside the model by default
    assert written.path == tmp_path / "model.ts" and written.format == "torchscript"
    assert written.checked_with == "torch.jit" and 0.0 <= written.max_abs_diff <= 1e-5
    traced = torch.jit.load(str(written.path))
    program = torch.export.load(str(export_model(path, format="program").path)).module()
    x = torch.rand(5, 1, 20, 20)
    with torch.no_grad():
        expected = ensemble((x - 0.3) / 0.2)
        assert torch.allclose(traced(x), expected, atol=1e-5) and torch.allclose(program(x), expected, atol=1e-5)


def test_an_unknown_export_format_is_refused(tmp_path: Path) -> None:
    _, path = _saved(tmp_path, "nb201")
    with pytest.raises(ValueError, match="export format must be one of torchscript, program, onnx"):
        export_model(path, format="tflite")
