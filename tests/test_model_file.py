"""``model.pt``: save, load from the file alone, TorchScript export, corrupt files refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import fne
from fne.genotopheno import get_space, list_spaces
from fne.model_file import export_program, export_torchscript, read_model_info, save_model


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
