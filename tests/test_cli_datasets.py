"""The ``fne`` command on a real non-CIFAR dataset: Fashion-MNIST as npz and as an image folder,
searched, trained for one epoch, saved, loaded and exported end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import fne
from fne.cli import main
from fne.data import load_dataset

FASHION = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fashion_mnist"
CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"


def _subset(path: Path, per_class: int) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        x, y, classes = npz["x"], npz["y"], npz["classes"]
    idx = np.concatenate([np.flatnonzero(y == c)[:per_class] for c in range(10)])
    return {"x": x[idx], "y": y[idx], "classes": classes}


@pytest.fixture(scope="module")
def fashion(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 300-train / 100-test Fashion-MNIST subset as npz files and as an image-folder tree."""
    if not (FASHION / "fashion_mnist_train_10k.npz").is_file():
        pytest.skip(f"shared Fashion-MNIST not found at {FASHION}")
    from PIL import Image

    root = tmp_path_factory.mktemp("fashion")
    npz, folder = root / "npz", root / "folder"
    npz.mkdir()
    for split, per_class in (("train", 30), ("test", 10)):
        arrays = _subset(FASHION / f"fashion_mnist_{split}_10k.npz", per_class)
        np.savez(npz / f"fm_{split}.npz", **arrays)
        for i, (image, label) in enumerate(zip(arrays["x"], arrays["y"], strict=False)):
            target = folder / split / _folder_name(arrays["classes"][label])
            target.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image[:, :, 0], mode="L").save(target / f"{i:04d}.png")
    return {"npz": npz, "folder": folder}


def _folder_name(name: object) -> str:
    return str(name).replace("/", "_")  # "T-shirt/top" cannot name a folder


def _search(data: Path, kind: str, out: Path) -> list[str]:
    return [
        "search",
        "--data-dir",
        str(data),
        "--dataset",
        kind,
        "--out",
        str(out),
        "--pop-size",
        "3",
        "--generations",
        "1",
        "--final-tournament-size",
        "0",
        "--proxy-batch",
        "20",
        "--train-epochs",
        "1",
        "--train-batch",
        "32",
        "--seed",
        "0",
        "--device",
        "cpu",
        "--workers",
        "1",
    ]


def test_the_npz_and_the_image_folder_load_alike(fashion: dict[str, Path]) -> None:
    a, b = load_dataset(fashion["npz"]), load_dataset(fashion["folder"], "folder")
    assert a.channels == b.channels == 1 and a.image_size == b.image_size == (28, 28)
    assert a.num_classes == b.num_classes == 10
    order_a, order_b = np.lexsort((a.train.labels,)), np.lexsort((b.train.labels,))
    assert np.array_equal(a.train.labels[order_a], b.train.labels[order_b])
    assert sorted(map(bytes, a.train.images)) == sorted(map(bytes, b.train.images))
    assert set(map(_folder_name, a.classes)) == set(b.classes) and a.mean == pytest.approx(b.mean)


@pytest.mark.parametrize("kind", ["npz", "folder"])
def test_a_search_trains_saves_and_exports_on_fashion_mnist(
    fashion: dict[str, Path], tmp_path: Path, kind: str, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    assert main(_search(fashion[kind], kind, out)) == 0
    summary = json.loads(capsys.readouterr().out)
    result = json.loads((out / "result.json").read_text())
    assert summary["best"] == result["best"]["arch"] and result["train"]["epochs"] == 1
    assert 0.0 <= result["train"]["test_accuracy"] <= 100.0
    net = fne.load_model(out / "model.pt")
    info = net.fne_info
    assert info.genotype == result["best"]["arch"] and info.channels == 1 and len(info.classes) == 10
    data = load_dataset(fashion[kind], kind)
    x = torch.from_numpy(data.test.images[:8]).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        logits = net((x - torch.tensor(info.mean).view(1, -1, 1, 1)) / torch.tensor(info.std).view(1, -1, 1, 1))
    assert logits.shape == (8, 10)
    assert main(["export", "--model", str(out / "model.pt")]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert exported["input"] == [1, 28, 28] and Path(exported["torchscript"]).is_file()


def test_fne_train_refuses_to_overwrite_and_trains_a_given_cell(
    fashion: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = [
        "train",
        "--arch",
        CELL,
        "--data-dir",
        str(fashion["npz"]),
        "--out",
        str(tmp_path / "t"),
        "--epochs",
        "1",
        "--train-batch",
        "32",
        "--build-arg",
        "C=4",
        "--build-arg",
        "N=1",
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["epochs"] == 1 and Path(report["model"]).is_file()
    saved = json.loads((tmp_path / "t" / "train.json").read_text())
    assert saved["test_accuracy"] == report["test_accuracy"] and not (tmp_path / "t" / "train_state.pt").exists()
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and "already holds a training" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main([*argv[:2], "|bogus~0|", *argv[3:]])
    assert info.value.code == 2


@pytest.mark.parametrize("kind", ["cifar10", "cifar100"])
def test_download_offline_fails_at_once_and_leaves_nothing(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import time
    import urllib.error
    import urllib.request

    def offline(url: str, timeout: float = 0.0) -> None:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    data = tmp_path / "data"
    data.mkdir()
    start = time.perf_counter()
    with pytest.raises(SystemExit) as info:
        main(["search", "--data-dir", str(data), "--dataset", kind, "--download", "--out", str(tmp_path / "run")])
    assert info.value.code == 1 and time.perf_counter() - start < 30
    err = capsys.readouterr().err
    assert "could not download" in err and "kriz" in err and "Traceback" not in err
    assert list(data.iterdir()) == [] and not (tmp_path / "run").exists()
