"""``src/NAS_on_cifar10.py``: option errors, refusals that overwrite nothing, SIGKILL and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "src" / "NAS_on_cifar10.py"
TINY_RUN = [
    "--workers",
    "1",
    "--final-tournament-steps",
    "4",
    "--pop-size",
    "3",
    "--generations",
    "2",
    "--tournament-every",
    "2",
    "--tournament-size",
    "3",
    "--tournament-steps",
    "4",
    "--tournament-batch",
    "8",
    "--seed",
    "3",
    "--device",
    "cpu",
]


pytestmark = pytest.mark.usefixtures("one_thread")


def load_cli():
    return load_script(SCRIPT, "nas_on_cifar10")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random CIFAR-shaped images in the npz layout (enough for the default splits)."""
    root = tmp_path_factory.mktemp("data")
    folder = root / "cifar10"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, n in (("tiny_train.npz", 400), ("tiny_test.npz", 40)):
        np.savez(folder / name, x=rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), y=rng.integers(0, 10, n))
    return root


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_cli_inprocess(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    with pytest.raises(SystemExit) as exc:
        load_cli().main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--pop-size", "1"], "--pop-size must be an integer >= 2"),
        (["--generations", "-2"], "--generations must be an integer >= 0"),
        (["--tournament-every", "-1"], "--tournament-every must be an integer >= 0"),
        (["--tournament-size", "3", "--tournament-keep", "3"], "tournament_keep (3) must be below tournament_size (3)"),
        (["--tournament-steps", "0"], "--tournament-steps must be an integer >= 1"),
        (["--proxies", "params,bogus"], "--proxies must be distinct registered proxies"),
        (["--proxies", "params,params"], "--proxies must be distinct registered proxies"),
        (["--proxies", ","], "--proxies must be distinct registered proxies"),
        (["--final-tournament-size", "1"], "--final-tournament-size must be 0 (none) or >= 2"),
        (["--final-tournament-steps", "0"], "--final-tournament-steps must be an integer >= 1"),
    ],
)
def test_bad_option_values(tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str) -> None:
    out = tmp_path / "out"
    err = run_cli_inprocess(argv + ["--out", str(out)], capsys)
    assert message in err and not out.exists()


def test_missing_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    err = run_cli_inprocess(["--data-dir", str(tmp_path / "nowhere"), "--out", str(out)], capsys)
    assert "nowhere" in err and "does not exist" in err and not out.exists()


def _write_run(folder: Path, data_dir: Path, **changes: object) -> None:
    """A checkpoint as a real run writes it (through the library), with config changes."""
    from fne.search.checkpoint import save_checkpoint
    from fne.search.config import SearchConfig

    config = SearchConfig(
        data_dir=str(data_dir),
        out=str(folder),
        pop_size=3,
        generations=2,
        tournament_every=2,
        tournament_size=3,
        tournament_steps=4,
        tournament_batch=8,
        final_tournament_steps=4,
        seed=3,
        device="cpu",
        workers=1,
    )
    doc = dict(config.to_dict(), **changes)
    save_checkpoint(folder / "checkpoint.json", config=doc, state={"generation": 0})


def test_refusals_overwrite_nothing(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    _write_run(out, data_dir)
    (out / "population.json").write_text("{}")
    before = snapshot(out)
    base = ["--data-dir", str(data_dir), "--out", str(out)] + TINY_RUN
    assert "already holds a run" in run_cli_inprocess(base, capsys)
    assert "different search (seed: checkpoint 3, now 4)" in run_cli_inprocess(
        base + ["--resume", "--seed", "4"], capsys
    )
    assert snapshot(out) == before
    (out / "checkpoint.json").write_text('{"format": "fne-evolution-checkpoint", "vers')
    before = snapshot(out)
    assert "is corrupt" in run_cli_inprocess(base + ["--resume"], capsys)
    assert snapshot(out) == before
    empty = tmp_path / "empty"
    assert "no checkpoint" in run_cli_inprocess(["--data-dir", str(data_dir), "--out", str(empty), "--resume"], capsys)


def _spawn(data_dir: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT / "src"))
    args = [sys.executable, str(SCRIPT), "--data-dir", str(data_dir), "--out", str(out), *TINY_RUN, *extra]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _generation(out: Path) -> int:
    try:
        return json.loads((out / "checkpoint.json").read_text())["state"]["generation"]
    except (OSError, ValueError, KeyError):
        return -2


def _finish(proc: subprocess.Popen) -> None:
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output


def test_sigkill_then_resume_gives_the_uninterrupted_result(tmp_path: Path, data_dir: Path) -> None:
    reference = _spawn(data_dir, tmp_path / "reference")
    victim_out = tmp_path / "victim"
    victim = _spawn(data_dir, victim_out)
    deadline = time.time() + 240
    while _generation(victim_out) < 1 and victim.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert victim.poll() is None, "the run ended before it could be killed"
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=60)
    assert not (victim_out / "result.json").exists()
    _finish(_spawn(data_dir, victim_out, "--resume"))
    _finish(reference)
    got = json.loads((victim_out / "result.json").read_text())
    want = json.loads((tmp_path / "reference" / "result.json").read_text())
    assert got["resumed"] and not want["resumed"]
    for key in ("best", "history", "front", "evaluations"):
        assert got[key] == want[key], key
    assert any(h["tournament"] for h in got["history"])
    assert (victim_out / "plots" / "pareto_front.png").stat().st_size > 0
    population = json.loads((victim_out / "population.json").read_text())
    assert population["generation"] == 2 and len(population["population"]) == 3


def test_training_learns_an_easy_task() -> None:
    from fne.data import Split
    from fne.genotopheno import get_space
    from fne.training.recipe import TrainConfig, evaluate_accuracy, train_network

    rng = np.random.default_rng(0)

    def split(n: int) -> Split:
        y = rng.integers(0, 3, n)
        x = rng.integers(0, 60, (n, 32, 32, 3)).astype(np.uint8)
        x[np.arange(n), :, :, y] += 150  # the class is the brightest colour channel
        return Split(x, y)

    space = get_space("nb201")
    torch.manual_seed(0)
    net = space.build(
        space.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|skip_connect~0|skip_connect~1|nor_conv_3x3~2|"),
        C=4,
        N=1,
        num_classes=3,
    )
    train_network(
        net,
        split(192),
        epochs=2,
        generator=torch.Generator().manual_seed(0),
        config=TrainConfig(batch_size=32, min_steps=1),
        progress=False,
    )
    acc = evaluate_accuracy(net, split(96))
    assert acc > 80.0


def _has_ray() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def test_process_workers_give_the_serial_result(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    from fne.search.config import SearchConfig
    from fne.search.run import run_search

    base = dict(
        data_dir=str(data_dir),
        pop_size=3,
        generations=1,
        tournament_every=0,
        seed=5,
        device="cpu",
        final_tournament_steps=6,
        tournament_build_kwargs={"C": 4, "N": 1},
    )
    serial = run_search(SearchConfig(out=str(tmp_path / "serial"), workers=1, **base), progress=False)
    assert any(h["tournament"] for h in serial["history"])  # the final tournament trains in workers too
    backends = [("process", 2), ("process", 3)] + ([("ray", 2)] if _has_ray() else [])
    for backend, workers in backends:
        pooled = run_search(
            SearchConfig(out=str(tmp_path / f"{backend}{workers}"), workers=workers, backend=backend, **base),
            progress=False,
        )
        for key in ("best", "history", "front", "evaluations"):  # as JSON: NaN scores compare equal
            assert json.dumps(pooled[key], sort_keys=True) == json.dumps(serial[key], sort_keys=True), key
        assert pooled["config"]["workers"] == workers
    err = run_cli_inprocess(["--out", str(tmp_path / "bad"), "--workers", "2", "--backend", "serial"], capsys)
    assert "one worker" in err and not (tmp_path / "bad").exists()


def test_config_names_a_bad_tournament_weight_loss() -> None:
    from fne.search.config import SearchConfig

    with pytest.raises(ValueError, match="--tournament-loss must be one of"):
        SearchConfig(tournament_weight_loss="sum").validate()
    assert SearchConfig(space="nb201").tournament_network_kwargs() == {"C": 8, "N": 3}
    assert SearchConfig(space="nb201").network_kwargs() == {"C": 8, "N": 2}
    assert SearchConfig(tournament_build_kwargs={"C": 4, "N": 2}).tournament_network_kwargs() == {"C": 4, "N": 2}


def test_final_tournament_decides_the_pick(tmp_path: Path, data_dir: Path) -> None:
    from fne.search.config import SearchConfig
    from fne.search.run import run_search

    config = SearchConfig(
        data_dir=str(data_dir),
        out=str(tmp_path / "run"),
        pop_size=4,
        generations=2,
        tournament_every=2,
        tournament_size=3,
        tournament_steps=2,
        tournament_batch=8,
        final_tournament_size=4,
        final_tournament_steps=2,
        seed=1,
        device="cpu",
        tournament_build_kwargs={"C": 4, "N": 1},
    )
    result = run_search(config, progress=False)
    last = result["history"][-1]["tournament"]
    assert last["final"] and len(last["candidates"]) == 4 and len(last["winners"]) == 1
    assert result["best"]["arch"] == last["winners"][0]
    with pytest.raises(ValueError, match="--final-tournament-loss must be one of"):
        SearchConfig(final_tournament_loss="sum").validate()
