"""report.html: one self-contained file whose figures are those of result.json / train.json, with
the pick's cell diagram, the front, the progress, the curves, the test figures and commands that
rebuild the run's configuration."""

from __future__ import annotations

import json
import re
import shlex
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fne.cli.search_command import build_parser as search_parser
from fne.cli.train_command import build_parser as train_parser
from fne.genotopheno import get_space
from fne.options import from_args
from fne.run_report import REPORT_HTML, write_run_report
from fne.search.config import SearchConfig
from fne.search.run import run_search
from fne.training.recipe import TrainConfig
from fne.training.run import TrainCommandConfig

ARCH = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"


class _Figures(HTMLParser):
    """The marked figures (``data-pointer``, ``data-value``, text), the images and the commands of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[tuple[str, Any, str]] = []
        self.images: list[str] = []
        self.commands: list[str] = []
        self._open: dict[str, Any] | None = None
        self._in_code = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-pointer" in a:
            self._open = {"pointer": a["data-pointer"], "value": json.loads(a["data-value"] or "null"), "text": ""}
        if tag == "img":
            self.images.append(a.get("src") or "")
        self._in_code = self._in_code or tag == "code"

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._open is not None:
            self.figures.append((self._open["pointer"], self._open["value"], self._open["text"]))
            self._open = None
        if tag == "code":
            self._in_code = False

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open["text"] += data
        if self._in_code and data.startswith(("fne ", "import fne")):
            self.commands.append(data)


def _parse(path: Path) -> _Figures:
    page = _Figures()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _resolve(docs: dict[str, Any], pointer: str) -> Any:
    value: Any = docs
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def _write_npz(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir()
    for name, n in (("train", 120), ("test", 60)):
        y = rng.integers(0, 3, n)
        x = rng.integers(0, 80, (n, 12, 12)).astype(np.uint8)
        x[y == 1, :6] += 120
        x[y == 2, 6:] += 120
        np.savez(folder / f"toy_{name}.npz", x=x, y=y, classes=np.array(["left", "top", "bottom"]))
    return folder


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    config = SearchConfig(
        data_dir=str(_write_npz(root / "data")),
        out=str(root / "run"),
        pop_size=4,
        generations=1,
        proxy_batch=24,
        final_tournament_size=0,
        train_epochs=1,
        training=TrainConfig(batch_size=32, min_steps=1),
        build_kwargs={"C": 4, "N": 1},
        device="cpu",
        workers=1,
    )
    run_search(config, progress=False)
    return root / "run"


def test_the_figures_of_a_search_report_are_those_of_result_json(search: Path) -> None:
    path = write_run_report(search)
    assert path == search / REPORT_HTML
    result = json.loads((search / "result.json").read_text())
    page = _parse(path)
    for pointer, value, _ in page.figures:
        assert _resolve({"result": result}, pointer) == value, pointer
    stated = {pointer: text for pointer, _, text in page.figures}
    assert stated["/result/evaluations"] == str(result["evaluations"])
    assert stated["/result/train/test_accuracy"] == f"{result['train']['test_accuracy']:.2f}%"
    for proxy in result["proxies"]:
        assert stated[f"/result/best/scores/{proxy}"] == f"{result['best']['scores'][proxy]:.4g}"
    for i, entry in enumerate(result["front"]):
        assert all(f"/result/front/{i}/scores/{p}" in stated for p in result["proxies"]), entry["arch"]
    assert {f"/result/history/{i}/front_size" for i in range(len(result["history"]))} <= set(stated)


def test_the_report_needs_nothing_but_itself(search: Path) -> None:
    text = write_run_report(search).read_text(encoding="utf-8")
    page = _parse(search / REPORT_HTML)
    plots = sorted((search / "plots").glob("*.png"))
    curves = 1 if json.loads((search / "result.json").read_text())["train"].get("history") else 0
    assert plots and len(page.images) == len(plots) + curves
    assert all(src.startswith("data:image/png;base64,") for src in page.images)
    assert "<script" not in text and "<link" not in text
    assert re.findall(r"https?://[^\"' ]+", text) == ["http://www.w3.org/2000/svg"]  # the SVG namespace only


def test_the_pick_is_drawn_as_its_cell(search: Path) -> None:
    result = json.loads((search / "result.json").read_text())
    text = write_run_report(search).read_text(encoding="utf-8")
    svg = re.search(r"<svg class=\"cell\".*?</svg>", text, re.S)
    assert svg is not None
    ops = get_space("nb201").parse(result["best"]["arch"]).ops
    assert svg.group(0).count("marker-end=") == 6 and svg.group(0).count("<circle") == 4
    assert sorted(re.findall(r'<text class="op"[^>]*>([a-z_0-9x]+)</text>', svg.group(0))) == sorted(
        [*ops, "input", "output"]
    )


def test_the_commands_rebuild_the_run(search: Path) -> None:
    result = json.loads((search / "result.json").read_text())
    page = _parse(write_run_report(search))
    resume = next(c for c in page.commands if c.startswith("fne search"))
    argv = shlex.split(resume)[2:]
    config = from_args(SearchConfig, search_parser("fne search").parse_args(argv))
    assert config.resume and config.to_dict() == {**result["config"], "resume": True}
    retrain = next(c for c in page.commands if c.startswith("fne train"))
    train = from_args(TrainCommandConfig, train_parser("fne train").parse_args(shlex.split(retrain)[2:]))
    assert train.arch == result["best"]["arch"] and train.data_dir == result["config"]["data_dir"]
    assert train.training.to_dict() == result["config"]["training"] and train.epochs == 1
    assert f"fne export --model {search / 'model.pt'} --format onnx" in page.commands


def _train_json(folder: Path, **extra: Any) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    matrix = [[40, 3, 1], [5, 30, 2], [0, 4, 15]]
    report = {
        "epochs": 3,
        "test_accuracy": 85.0,
        "balanced_accuracy": 81.25,
        "per_class_recall": [100 * 40 / 44, 100 * 30 / 37, 100 * 15 / 19],
        "confusion_matrix": matrix,
        "roc_auc": 0.9431,
        "best_epoch": 2,
        "epochs_run": 3,
        "val_accuracy": 72.5,
        "stopped_early": False,
        "settings": {"batch": 32, "lr": 0.0125, "balance": "none"},
        "history": [
            {"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e, "val_accuracy": 60.0 + 5 * e} for e in (1, 2, 3)
        ],
        "seconds_per_epoch": 4.5,
        "classes": ["left", "top", "bottom"],
        "config": {
            **TrainCommandConfig(arch=ARCH, epochs=3, out=str(folder)).__dict__,
            "training": TrainConfig().to_dict(),
        },
        **extra,
    }
    (folder / "train.json").write_text(json.dumps(report))
    return report


def test_a_training_report_shows_the_test_figures_and_curves(tmp_path: Path) -> None:
    report = _train_json(tmp_path / "fm")
    page = _parse(write_run_report(tmp_path / "fm"))
    for pointer, value, _ in page.figures:
        assert _resolve({"train": report}, pointer) == value, pointer
    stated = {pointer: text for pointer, _, text in page.figures}
    assert stated["/train/test_accuracy"] == "85.00%" and stated["/train/balanced_accuracy"] == "81.25%"
    assert stated["/train/roc_auc"] == "0.943" and stated["/train/best_epoch"] == "2"
    assert stated["/train/epochs_run"] == "3" and stated["/train/val_accuracy"] == "72.50%"
    assert [stated[f"/train/per_class_recall/{i}"] for i in range(3)] == ["90.91%", "81.08%", "78.95%"]
    assert all(
        stated[f"/train/confusion_matrix/{i}/{j}"] == str(v)
        for i, row in enumerate(report["confusion_matrix"])
        for j, v in enumerate(row)
    )
    assert len(page.images) == 1  # the training and validation curves
    text = (tmp_path / "fm" / REPORT_HTML).read_text(encoding="utf-8")
    assert ">bottom</b>" in text and "Rows: the true class" in text
    resume = next(c for c in page.commands if c.endswith("--resume"))
    config = from_args(TrainCommandConfig, train_parser("fne train").parse_args(shlex.split(resume)[2:]))
    assert config.arch == ARCH and config.epochs == 3 and config.out == str(tmp_path / "fm")


def test_an_ensemble_report_lists_its_members(tmp_path: Path) -> None:
    members = [
        {"arch": ARCH, "seed": 0, "test_accuracy": 80.0, "model": "m0"},
        {"arch": ARCH, "seed": 1, "test_accuracy": 82.5, "model": "m1"},
    ]
    report = _train_json(tmp_path / "ens", ensemble=2, members=members, best_member_test_accuracy=82.5)
    page = _parse(write_run_report(tmp_path / "ens"))
    stated = {pointer: text for pointer, _, text in page.figures}
    assert stated["/train/members/0/test_accuracy"] == "80.00%" and stated["/train/members/1/test_accuracy"] == "82.50%"
    text = (tmp_path / "ens" / REPORT_HTML).read_text(encoding="utf-8")
    assert "test accuracy (ensemble of 2)" in text and "2.50 points above its best member" in text
    assert report["test_accuracy"] - 82.5 == 2.5


def test_darts_cells_are_drawn_and_other_spaces_written_out(tmp_path: Path) -> None:
    for space_name in ("darts", "channels"):
        space = get_space(space_name)
        arch = space.format(space.sample(np.random.default_rng(0)))
        folder = tmp_path / space_name
        folder.mkdir()
        (folder / "result.json").write_text(
            json.dumps(
                {"best": {"arch": arch, "scores": {}}, "front": [], "history": [], "config": {"space": space_name}}
            )
        )
        text = write_run_report(folder).read_text(encoding="utf-8")
        if space_name == "darts":
            svgs = re.findall(r"<svg class=\"cell\".*?</svg>", text, re.S)
            assert len(svgs) == 2 and all(s.count("marker-end=") == 8 + 4 for s in svgs)  # 8 ops, 4 concatenated
        else:
            assert "has no cell diagram" in text and "<svg" not in text


def test_a_folder_without_a_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="holds neither result.json nor train.json"):
        write_run_report(tmp_path)
    (tmp_path / "train.json").write_text("[1, 2")
    with pytest.raises(ValueError, match="train.json is not readable JSON"):
        write_run_report(tmp_path)
    assert not (tmp_path / REPORT_HTML).exists()
