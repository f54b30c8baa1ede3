"""A search run loses nothing and says what happens: locks, records, failed steps, corrupt files."""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fne.files import atomic_write_json
from fne.search.config import SearchConfig
from fne.search.lock import FolderBusyError, FolderLock
from fne.search.run import run_search
from fne.training.recipe import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "src" / "NAS_on_cifar10.py"

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = dict(
    pop_size=3,
    generations=1,
    tournament_every=0,
    final_tournament_size=2,
    final_tournament_steps=2,
    tournament_batch=8,
    seed=2,
    device="cpu",
    workers=1,
    tournament_build_kwargs={"C": 4, "N": 1},
    build_kwargs={"C": 4, "N": 1},
    proxy_batch=16,
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    (root / "cifar10").mkdir()
    rng = np.random.default_rng(0)
    for name, n in (("tiny_train.npz", 200), ("tiny_test.npz", 30)):
        np.savez(root / "cifar10" / name, x=rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), y=np.arange(n) % 10)
    return root


def config(data_dir: Path, out: Path, **changes) -> SearchConfig:
    return SearchConfig(data_dir=str(data_dir), out=str(out), **{**TINY, **changes})


def files(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ the output folder's lock


def test_a_second_run_into_a_locked_folder_is_refused(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "run"
    with FolderLock(out):
        with pytest.raises(FolderBusyError, match=f"in use by another run .*process {os.getpid()}"):
            run_search(config(data_dir, out), progress=False)
        assert sorted(p.name for p in out.iterdir()) == [".lock"]
    assert not out.exists() or not any(out.iterdir())


def test_the_lock_is_held_across_processes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time; from fne.search.lock import FolderLock; "
                f"lock = FolderLock({str(out)!r}).acquire(); print('held', flush=True); time.sleep(60)"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderBusyError, match=f"process {holder.pid}"):
            FolderLock(out).acquire()
    finally:
        holder.kill()
        holder.wait()
    with FolderLock(out):  # the kernel released the dead holder's lock
        pass


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "run"
    dead = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (f"import os; from fne.search.lock import FolderLock; FolderLock({str(out)!r}).acquire(); os._exit(0)"),
        ]
    )
    dead.wait()
    assert json.loads((out / ".lock").read_text())["pid"] == dead.pid
    with caplog.at_level(logging.WARNING), FolderLock(out):
        assert json.loads((out / ".lock").read_text())["pid"] == os.getpid()
    assert f"left by process {dead.pid} (no longer running)" in caplog.text
    assert not (out / ".lock").exists()


# ------------------------------------------------------------------ benchmark table and after-search steps


def test_a_benchmark_table_of_another_space_is_refused_before_searching(
    tmp_path: Path, data_dir: Path, nb201_csv: Path
) -> None:
    import csv

    table = tmp_path / "nb201.csv"
    with open(nb201_csv, newline="") as fh:
        rows = [row for _, row in zip(range(2), csv.DictReader(fh), strict=False)]
    table.write_text("arch_str,c10_test_200ep\n" + "".join(f"{r['arch_str']},{r['c10_test_200ep']}\n" for r in rows))
    with pytest.raises(ValueError, match=r"nb201.csv, row 2: arch_str '\|.*' is not a darts genotype"):
        run_search(config(data_dir, tmp_path / "run", space="darts", benchmark=str(table)), progress=False)
    assert not (tmp_path / "run").exists()


def test_a_bad_benchmark_value_names_its_row(tmp_path: Path, data_dir: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("arch_str,c10_test_200ep\n|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,high\n")
    with pytest.raises(ValueError, match="row 2: c10_test_200ep 'high' is not a number"):
        run_search(config(data_dir, tmp_path / "run", benchmark=str(table)), progress=False)


def test_a_failing_training_step_is_recorded_and_the_search_kept(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fne.search.run as search

    def broken(*args, **kwargs):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(search, "train_cell", broken)
    out = tmp_path / "run"
    result = run_search(config(data_dir, out, train_epochs=1), progress=False)
    saved = json.loads((out / "result.json").read_text())
    assert saved["best"]["arch"] == result["best"]["arch"]
    assert saved["train"] == {"error": "RuntimeError: DefaultCPUAllocator: can't allocate memory"}


# ------------------------------------------------------------------ honest records


def test_wall_time_covers_training_and_testing(tmp_path: Path, data_dir: Path) -> None:
    result = run_search(config(data_dir, tmp_path / "run", train_epochs=1), progress=False)
    timing = result["timing"]
    assert timing["training_s"] > 0 and timing["testing_s"] > 0 and timing["scoring_s"] > 0
    assert timing["tournaments_s"] > 0 and timing["segments"] == 1
    parts = sum(timing[f"{p}_s"] for p in ("scoring", "tournaments", "training", "testing"))
    assert result["wall_time_s"] == timing["wall_s"] >= parts
    assert "train" in result and result["train"]["epochs"] == 1


def test_resumed_runs_sum_their_segments(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "run"
    first = run_search(config(data_dir, out, generations=1, final_tournament_size=0), progress=False)
    (out / "result.json").unlink()  # as if the run had been stopped after its last checkpoint
    checkpointed = json.loads((out / "checkpoint.json").read_text())["timing"]
    second = run_search(config(data_dir, out, generations=2, final_tournament_size=0, resume=True), progress=False)
    assert second["timing"]["segments"] == 2
    assert checkpointed["segments"] == 1 and 0 < checkpointed["wall_s"] <= first["wall_time_s"]
    assert second["wall_time_s"] > checkpointed["wall_s"]
    assert second["timing"]["scoring_s"] > first["timing"]["scoring_s"]


def test_resuming_a_finished_run_changes_nothing(
    tmp_path: Path, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "run"
    result = run_search(config(data_dir, out), progress=False)
    before = files(out)
    with caplog.at_level(logging.INFO):
        again = run_search(config(data_dir, out, resume=True), progress=False)
    assert again == json.loads(json.dumps(result, allow_nan=True)) or again["best"] == result["best"]
    assert files(out) == before
    assert "is finished" in caplog.text


# ------------------------------------------------------------------ file modes and corrupt files


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_honour_the_umask(tmp_path: Path, mask: int, mode: int) -> None:
    old = os.umask(mask)
    try:
        atomic_write_json(tmp_path / "f.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "f.json").stat().st_mode) == mode


def test_a_runs_files_honour_the_umask(tmp_path: Path, data_dir: Path) -> None:
    old = os.umask(0o022)
    try:
        run_search(config(data_dir, tmp_path / "run"), progress=False)
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "run").rglob("*") if p.is_file()}
    assert modes and all(m == 0o644 for m in modes.values()), modes


def test_an_out_below_a_regular_file_is_refused(tmp_path: Path, data_dir: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    with pytest.raises(ValueError, match=f"lies below {blocker}, which is a file"):
        run_search(config(data_dir, blocker / "run"), progress=False)
    with pytest.raises(ValueError, match="is a file, not a folder"):
        run_search(config(data_dir, blocker), progress=False)
    assert blocker.read_text() == "mine"


def _stopped_run(data_dir: Path, out: Path) -> None:
    run_search(config(data_dir, out, generations=1, final_tournament_size=0), progress=False)
    (out / "result.json").unlink()


def test_a_garbage_torch_rng_in_the_checkpoint_names_the_file(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "run"
    _stopped_run(data_dir, out)
    doc = json.loads((out / "checkpoint.json").read_text())
    doc["state"]["torch_rng"] = "bm90IGEgc3RhdGU="
    (out / "checkpoint.json").write_text(json.dumps(doc))
    before = files(out)
    with pytest.raises(
        ValueError,
        match=f"checkpoint {out / 'checkpoint.json'} cannot be resumed.*torch_rng is not a saved torch generator state",
    ):
        run_search(config(data_dir, out, generations=2, final_tournament_size=0, resume=True), progress=False)
    assert files(out) == before


def test_a_corrupt_score_cache_is_set_aside_and_rebuilt(
    tmp_path: Path, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "run"
    _stopped_run(data_dir, out)
    (out / "scores_cache.json").write_text("{not json")
    with caplog.at_level(logging.WARNING):
        result = run_search(config(data_dir, out, generations=2, final_tournament_size=0, resume=True), progress=False)
    aside = list(out.glob("scores_cache.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == "{not json"
    assert "only a cache" in caplog.text and result["generations"] == 2
    assert json.loads((out / "scores_cache.json").read_text())["entries"]


# ------------------------------------------------------------------ progress and Ctrl-C


def test_progress_is_plain_when_not_on_a_terminal(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch, capfd
) -> None:
    import fne.progress as progress

    monkeypatch.setattr(progress, "PLAIN_INTERVAL", 0.0)
    progress.configure_logging(logging.INFO)
    try:
        run_search(config(data_dir, tmp_path / "run", final_tournament_steps=4), progress=True)
    finally:
        for handler in list(logging.getLogger().handlers):
            if getattr(handler, "_fne", False):
                logging.getLogger().removeHandler(handler)
    err = capfd.readouterr().err
    assert "\r" not in err and "\x1b[" not in err
    assert "tournament of 2: 4/4 step (100%)" in err and "leader" in err and "weight" in err
    assert "scoring: 3/3 cell" in err


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_ends_with_one_line_on_how_to_resume(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "run"
    args = [
        sys.executable,
        str(SCRIPT),
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
        "--workers",
        "2",
        "--pop-size",
        "3",
        "--generations",
        "50",
        "--tournament-every",
        "0",
        "--final-tournament-size",
        "0",
        "--seed",
        "1",
        "--device",
        "cpu",
    ]
    # a terminal delivers Ctrl-C to a process whose SIGINT is not ignored; a harness run in the
    # background may have started this one with SIGINT ignored, which a child would inherit
    proc = subprocess.Popen(
        args,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    deadline = time.time() + 120
    while not (out / "population.json").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted; continue with: ") and "--resume" in last and str(out) in last


def test_a_run_interrupted_while_training_the_pick_resumes_the_training(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    import fne.training.recipe as training
    import fne.training.train_cell as train_cell

    out = tmp_path / "run"
    first = config(data_dir, out, train_epochs=2, training=TrainConfig(batch_size=50, min_steps=1))
    original, saves = training._save, []

    def save_then_stop(*args, **kwargs):
        original(*args, **kwargs)
        saves.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "_save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run_search(first, progress=False)
    assert saves == [1] and (out / train_cell.TRAIN_STATE).is_file() and not (out / "model.pt").exists()
    monkeypatch.setattr(training, "_save", original)
    result = run_search(dataclasses.replace(first, resume=True), progress=False)
    assert result["train"]["epochs"] == 2 and (out / "model.pt").is_file()
    assert not (out / train_cell.TRAIN_STATE).exists()
    saved = json.loads((out / "result.json").read_text())
    assert saved["train"] == result["train"]
    # finished now: resuming again changes nothing
    before = files(out)
    run_search(dataclasses.replace(first, resume=True), progress=False)
    assert files(out) == before
