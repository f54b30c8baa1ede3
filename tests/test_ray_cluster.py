"""fne on a Ray cluster started the way users start one (``ray start --head``): the head asks for
the token it finds in ``~/.ray/auth_token``, fne's driver finds the same token, and a search and a
scoring give the serial runs' results; a wrong token, a missing token or a wrong address stop
``fne`` with one line (exit status 2) before anything is written."""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fne import ray_cluster
from fne.cli import main as fne_main

pytest.importorskip("ray")
pytestmark = pytest.mark.skipif(os.name != "posix", reason="stops the head through its POSIX process group")

RAY_ENV = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS")
HEAD_START_SECONDS = 90
CELLS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "|nor_conv_1x1~0|+|none~0|nor_conv_3x3~1|+|none~0|skip_connect~1|avg_pool_3x3~2|",
    "|skip_connect~0|+|avg_pool_3x3~0|skip_connect~1|+|nor_conv_3x3~0|none~1|nor_conv_1x1~2|",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ray_command() -> str:
    found = shutil.which("ray") or str(Path(sys.executable).with_name("ray"))
    if not Path(found).is_file():
        pytest.fail("ray is installed but its `ray` command is not on PATH")
    return found


def _stop_group(group: int) -> None:
    """End every process of the head's process group (and only those): Ray's processes keep the
    group of the ``ray start`` that started them. ``ray stop`` is not used: it ends every Ray
    process on the machine, other runs' included."""
    for sig, wait in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


@pytest.fixture(scope="module")
def head() -> Iterator[dict[str, str]]:
    """A Ray head on the loopback address with token authentication, as ``ray start --head`` starts
    one when ``~/.ray/auth_token`` holds a token; yields its address and the driver's HOME."""
    root = Path(tempfile.mkdtemp(prefix="fne-ray-"))  # short: Ray's socket paths have a length limit
    home = root / "home"
    (home / ".ray").mkdir(parents=True)
    (home / ".ray" / "auth_token").write_text(secrets.token_hex(32))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in RAY_ENV}
    env["HOME"] = str(home)
    command = [
        _ray_command(),
        "start",
        "--head",
        "--node-ip-address",
        "127.0.0.1",
        "--port",
        str(port),
        "--temp-dir",
        str(root / "ray"),
        "--num-cpus",
        "2",
        "--object-store-memory",
        str(200 * 1024 * 1024),
        "--include-dashboard",
        "false",
        "--dashboard-agent-listen-port",
        str(_free_port()),
        "--disable-usage-stats",
    ]
    log = root / "ray_start.log"
    with open(log, "wb") as out:
        start = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            code = start.wait(timeout=HEAD_START_SECONDS)
        except subprocess.TimeoutExpired:
            code = None
        if code != 0:
            pytest.fail(f"`ray start --head` failed ({code}):\n{log.read_text(errors='replace')[-3000:]}")
        yield {"address": f"127.0.0.1:{port}", "home": str(home)}
    finally:
        _stop_group(start.pid)
        start.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def driver_env(head: dict[str, str]) -> Iterator[pytest.MonkeyPatch]:
    """This process as a driver on the head's machine: the head's HOME (its token file), no Ray
    variables, no cluster checked yet; Ray's cached settings are restored afterwards."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", head["home"])
        for name in RAY_ENV:
            patch.delenv(name, raising=False)
        patch.setattr(ray_cluster, "_checked_ray_clusters", set())
        ray_cluster.refresh_ray_auth()
        yield patch
    ray_cluster.refresh_ray_auth()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random CIFAR-shaped images in the npz layout, and a small NB201 table to score."""
    root = tmp_path_factory.mktemp("data")
    folder = root / "cifar10"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, n in (("tiny_train.npz", 400), ("tiny_test.npz", 40)):
        np.savez(folder / name, x=rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), y=rng.integers(0, 10, n))
    with open(root / "table.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["arch_str", "acc"])
        writer.writerows([cell, 60.0 + 5 * i] for i, cell in enumerate(CELLS))
    return root


def _search_argv(data_dir: Path, out: Path, *extra: str) -> list[str]:
    return [
        "search",
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
        "--pop-size",
        "3",
        "--generations",
        "1",
        "--tournament-every",
        "0",
        "--final-tournament-size",
        "0",
        "--proxy-batch",
        "16",
        "--train-epochs",
        "0",
        "--seed",
        "3",
        "--device",
        "cpu",
        *extra,
    ]


def _score_argv(data_dir: Path, out: Path, *extra: str) -> list[str]:
    return [
        "score",
        "--space",
        "nb201",
        "--ground-truth",
        str(data_dir / "table.csv"),
        "--metric",
        "acc",
        "--n",
        str(len(CELLS)),
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--batch",
        "8",
        "--build-arg",
        "C=4",
        "--build-arg",
        "N=1",
        *extra,
    ]


def _usage_error(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    """Run ``fne``, expect exit status 2, and return its one line of error."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        fne_main(argv)
    assert stop.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_search_and_scoring_on_the_cluster_match_serial_runs(
    driver_env: pytest.MonkeyPatch, head: dict[str, str], data_dir: Path, tmp_path: Path
) -> None:
    cluster = ("--workers", "2", "--backend", "ray", "--ray-address", head["address"])
    fne_main(_search_argv(data_dir, tmp_path / "search_serial", "--workers", "1"))
    fne_main(_search_argv(data_dir, tmp_path / "search_cluster", *cluster))
    assert os.environ["RAY_AUTH_MODE"] == "token"  # the driver sends the token it found in ~/.ray
    serial = json.loads((tmp_path / "search_serial" / "result.json").read_text())
    pooled = json.loads((tmp_path / "search_cluster" / "result.json").read_text())
    assert pooled["config"]["backend"] == "ray" and pooled["config"]["ray_address"] == head["address"]
    for key in ("best", "front", "history", "evaluations"):  # as JSON: NaN scores compare equal
        assert json.dumps(pooled[key], sort_keys=True) == json.dumps(serial[key], sort_keys=True), key

    fne_main(_score_argv(data_dir, tmp_path / "score_serial", "--workers", "1"))
    fne_main(_score_argv(data_dir, tmp_path / "score_cluster", *cluster))
    scores = (tmp_path / "score_cluster" / "scores.csv").read_bytes()
    assert scores == (tmp_path / "score_serial" / "scores.csv").read_bytes()
    assert len(scores.decode().splitlines()) == len(CELLS) + 1
    timing = json.loads((tmp_path / "score_cluster" / "timing.json").read_text())
    assert timing["backend"] == "ray"


def test_wrong_or_missing_token_and_wrong_address_stop_with_one_line(
    driver_env: pytest.MonkeyPatch, head: dict[str, str], data_dir: Path, tmp_path: Path, capsys
) -> None:
    address, out = head["address"], tmp_path / "out"
    argv = _search_argv(data_dir, out, "--workers", "2", "--backend", "ray", "--ray-address", address)

    driver_env.setenv("RAY_AUTH_TOKEN", "not-the-cluster-token")
    line = _usage_error(argv, capsys)
    assert f"--ray-address {address}: the cluster refused the token from RAY_AUTH_TOKEN" in line
    assert "not-the-cluster-token" not in line and "ray get-auth-token" in line

    driver_env.delenv("RAY_AUTH_TOKEN")
    driver_env.delenv("RAY_AUTH_MODE", raising=False)
    driver_env.setenv("HOME", str(tmp_path))  # no ~/.ray/auth_token here
    ray_cluster.refresh_ray_auth()
    line = _usage_error(argv, capsys)
    assert f"--ray-address {address}: the cluster requires a token and none was found" in line
    assert "RAY_AUTH_TOKEN_PATH" in line and "~/.ray/auth_token" in line

    wrong = f"127.0.0.1:{_free_port()}"
    line = _usage_error(
        _score_argv(data_dir, out, "--workers", "2", "--backend", "ray", "--ray-address", wrong), capsys
    )
    assert f"--ray-address {wrong}: cannot reach it" in line and "ray start --head --port" in line
    assert not out.exists()
