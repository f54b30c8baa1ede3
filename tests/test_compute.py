"""Evaluator backends: order, retries, failures, worker death, and the same results as serial."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fne.compute import (
    Failed,
    ProcessEvaluator,
    SerialEvaluator,
    make_evaluator,
    threads_per_worker,
    usable_cpus,
)


def square(x: int) -> int:
    return x * x


def fail_on_three(x: int) -> int:
    if x == 3:
        raise RuntimeError("cell 3 is broken")
    return x


def flaky(path: str) -> str:
    """Fails the first time it is called with a given marker path, succeeds afterwards."""
    marker = Path(path)
    if not marker.exists():
        marker.write_text("seen")
        raise RuntimeError("transient")
    return "ok"


def die_on_two(x: int) -> int:
    if x == 2:
        os._exit(3)
    return x + 100


@pytest.mark.parametrize("backend", ["serial", "process"])
def test_results_in_order(backend: str) -> None:
    ev = make_evaluator(backend, workers=2)
    try:
        assert ev.map(square, list(range(7)), progress=False) == [i * i for i in range(7)]
    finally:
        ev.close()


@pytest.mark.parametrize("backend", ["serial", "process"])
def test_failing_item_recorded_and_run_goes_on(backend: str, caplog) -> None:
    ev = make_evaluator(backend, workers=2)
    try:
        out = ev.map(fail_on_three, [1, 2, 3, 4], progress=False)
    finally:
        ev.close()
    assert out[:2] == [1, 2] and out[3] == 4
    assert isinstance(out[2], Failed) and out[2].attempts == 2 and "cell 3 is broken" in out[2].error
    assert "1 of 4 items failed" in caplog.text


@pytest.mark.parametrize("backend", ["serial", "process"])
def test_transient_failure_retried_once(backend: str, tmp_path: Path) -> None:
    ev = make_evaluator(backend, workers=2)
    try:
        assert ev.map(flaky, [str(tmp_path / "a"), str(tmp_path / "b")], progress=False) == ["ok", "ok"]
    finally:
        ev.close()


def test_dead_worker_fails_alone_and_pool_recovers() -> None:
    ev = ProcessEvaluator(workers=2)
    try:
        out = ev.map(die_on_two, [0, 1, 2, 3, 4], progress=False)
        assert [out[i] for i in (0, 1, 3, 4)] == [100, 101, 103, 104]
        assert isinstance(out[2], Failed) and "worker died" in out[2].error
        assert ev.map(square, [5], progress=False) == [25]
    finally:
        ev.close()


SHARER_CHECK = """
import multiprocessing.resource_sharer as sharer
import torch
from fne.compute import ProcessEvaluator
ev = ProcessEvaluator(workers=2)
try:
    out = ev.map(torch.neg, [torch.arange(4.0), torch.ones(3)], progress=False)
finally:
    ev.close()
assert torch.equal(out[0], -torch.arange(4.0)) and torch.equal(out[1], -torch.ones(3))
print("listener" if sharer._resource_sharer._listener is not None else "none")
"""


def test_tensors_travel_as_bytes_not_shared_descriptors() -> None:
    """No descriptor-serving thread is started, so a worker stopped mid-call leaves no traceback."""
    run = subprocess.run([sys.executable, "-c", SHARER_CHECK], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "none"


DRIVER = """
import os, sys, threading, time
from pathlib import Path

from fne.compute import make_evaluator


def record_pid_and_wait(folder):
    Path(folder, f"{os.getpid()}.pid").touch()
    time.sleep(120)  # far longer than the test runs


def run():
    make_evaluator(sys.argv[1], workers=2).map(record_pid_and_wait, [sys.argv[2]] * 2, progress=False)


if __name__ == "__main__":
    if sys.argv[3] == "other-thread":
        thread = threading.Thread(target=run)
        thread.start()
        thread.join()
    else:
        run()
"""


def _running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie waiting for its new parent has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds processes in /proc")
@pytest.mark.parametrize(
    "backend, thread",
    [
        ("process", "main-thread"),
        ("process", "other-thread"),
        pytest.param("ray", "main-thread", marks=pytest.mark.slow),
    ],
)
def test_workers_end_when_their_parent_is_killed(tmp_path: Path, backend: str, thread: str) -> None:
    """SIGKILL leaves the parent no chance to stop its workers: they must end by themselves."""
    if backend == "ray":
        pytest.importorskip("ray")
    driver, folder, errors = tmp_path / "driver.py", tmp_path / "pids", tmp_path / "driver.err"
    driver.write_text(DRIVER)
    folder.mkdir()
    with open(errors, "wb") as err:
        parent = subprocess.Popen(
            [sys.executable, str(driver), backend, str(folder), thread], stdout=subprocess.DEVNULL, stderr=err
        )
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while len(workers) < 2 and time.monotonic() < deadline and parent.poll() is None:
            time.sleep(0.1)
            workers = [int(p.stem) for p in folder.glob("*.pid")]
        assert len(workers) == 2, f"the workers did not start: {errors.read_text()[-2000:]}"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while any(map(_running, workers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if _running(pid)], "workers outlived their killed parent by 10 s"
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.wait()
        for pid in workers:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


def test_bad_arguments_rejected() -> None:
    with pytest.raises(ValueError, match="unknown backend 'mpi'"):
        make_evaluator("mpi", workers=2)
    with pytest.raises(ValueError, match="workers"):
        make_evaluator("process", workers=0)


def test_threads_do_not_oversubscribe() -> None:
    assert threads_per_worker(2, cpus=2) == 1
    assert threads_per_worker(1, cpus=2) == 2
    assert threads_per_worker(4, cpus=2) == 1
    assert threads_per_worker(2, cpus=8) == 4


def test_ray_local_instance_matches_serial() -> None:
    pytest.importorskip("ray")

    def cube(x: int) -> int:  # defined here so that Ray ships it by value
        return x**3

    def broken(x: int) -> int:
        raise ValueError("always")

    ev = make_evaluator("ray", workers=2)
    try:
        items = list(range(6))
        assert ev.map(cube, items, progress=False) == SerialEvaluator().map(cube, items, progress=False)
        out = ev.map(broken, [1], progress=False)
        assert isinstance(out[0], Failed) and "always" in out[0].error
    finally:
        ev.close()


@pytest.fixture(scope="module")
def cells_and_batch():
    import numpy as np
    import torch

    from fne.genotopheno import get_space

    space = get_space("nb201")
    rng = np.random.default_rng(0)
    cells = [space.sample(rng) for _ in range(4)]
    cells.append(space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"))
    gen = torch.Generator().manual_seed(0)
    return space, cells, torch.randn(8, 3, 16, 16, generator=gen), torch.arange(8) % 10


def _scores(space, cells, x, y, evaluator):
    from fne.evolution.fitness import Scorer

    scorer = Scorer(
        space,
        ("naswot", "params", "grad_corr"),
        inputs=x,
        targets=y,
        device="cpu",
        build_kwargs={"C": 4, "N": 1},
        evaluator=evaluator,
    )
    return scorer.score_many(cells, progress=False), scorer


def _same(a, b) -> bool:
    import math

    return all(
        (math.isnan(u[k]) and math.isnan(v[k])) or u[k] == pytest.approx(v[k], rel=1e-5)
        for u, v in zip(a, b, strict=False)
        for k in u
    )


@pytest.mark.parametrize("backend", ["process", "ray"])
def test_scorer_backends_match_serial(cells_and_batch, backend: str) -> None:
    if backend == "ray":
        pytest.importorskip("ray")
    space, cells, x, y = cells_and_batch
    serial, _ = _scores(space, cells, x, y, None)
    ev = make_evaluator(backend, workers=2)
    try:
        parallel, scorer = _scores(space, cells, x, y, ev)
    finally:
        ev.close()
    assert _same(serial, parallel)
    assert scorer.num_evaluated == len(cells) and scorer.num_failed == 0
    assert all(math.isnan(v) for v in parallel[-1].values())  # the all-none cell: worst score


def test_scorer_records_failed_cells(cells_and_batch) -> None:
    space, cells, x, y = cells_and_batch

    class AlwaysFails:
        workers, threads = 2, 1

        def imap(self, fn, items):
            return iter([Failed("worker lost", 2) for _ in items])

        def close(self) -> None:
            return None

    scores, scorer = _scores(space, cells[:2], x, y, AlwaysFails())
    assert scorer.num_failed == 2
    assert all(math.isnan(v) for s in scores for v in s.values())


def test_command_line_options() -> None:
    import argparse

    from fne.compute import ComputeOptions, evaluator_for
    from fne.options import add_options

    parser = argparse.ArgumentParser()
    add_options(parser, ComputeOptions, skip=("device",))

    def from_argv(parser: argparse.ArgumentParser, argv: list):
        args = parser.parse_args(argv)
        return evaluator_for(ComputeOptions(workers=args.workers, backend=args.backend, ray_address=args.ray_address))

    default = from_argv(parser, [])
    assert default.workers == usable_cpus() and default.threads == 1
    default.close()
    assert isinstance(from_argv(parser, ["--workers", "1"]), SerialEvaluator)
    ev = from_argv(parser, ["--workers", "2"])
    try:
        assert isinstance(ev, ProcessEvaluator) and ev.workers == 2 and ev.threads == 1
    finally:
        ev.close()
    with pytest.raises(ValueError, match="--ray-address needs --backend ray"):
        from_argv(parser, ["--ray-address", "10.0.0.1:6379"])
    with pytest.raises(ValueError, match="one worker"):
        from_argv(parser, ["--workers", "2", "--backend", "serial"])
    with pytest.raises(ValueError, match="--workers must be an integer >= 1"):
        from_argv(parser, ["--workers", "0"])


def test_resolved_workers() -> None:
    from fne.compute import ComputeOptions

    assert ComputeOptions(workers=3).resolved_workers() == 3
    assert ComputeOptions(backend="serial").resolved_workers() == 1
    assert ComputeOptions(device="cpu").resolved_workers() == usable_cpus()


@pytest.fixture
def no_ray_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No Ray token variables and an empty HOME (no ``~/.ray/auth_token``)."""
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return monkeypatch


def test_ray_token_is_found_where_ray_keeps_it(no_ray_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from fne.ray_cluster import ray_token_source

    assert ray_token_source() is None
    default = tmp_path / "home" / ".ray" / "auth_token"
    default.parent.mkdir(parents=True)
    default.write_text("secret-a")
    assert ray_token_source() == str(default)
    named = tmp_path / "token.txt"
    named.write_text("secret-b")
    no_ray_env.setenv("RAY_AUTH_TOKEN_PATH", str(named))
    assert ray_token_source() == f"RAY_AUTH_TOKEN_PATH ({named})"
    no_ray_env.setenv("RAY_AUTH_TOKEN", "secret-c")
    assert ray_token_source() == "RAY_AUTH_TOKEN"
    no_ray_env.delenv("RAY_AUTH_TOKEN")
    no_ray_env.setenv("RAY_AUTH_TOKEN_PATH", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="RAY_AUTH_TOKEN_PATH names .*missing, which is not a file"):
        ray_token_source()


def test_ray_versions_the_cluster_refuses_are_named(no_ray_env: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray")
    from importlib.metadata import version

    from fne.ray_cluster import ray_version_problem

    here = ".".join(map(str, sys.version_info[:3]))
    other_patch = ".".join(map(str, (*sys.version_info[:2], sys.version_info[2] + 1)))
    ray_here = version("ray")
    assert ray_version_problem({"ray_version": ray_here, "python_version": here}, "h:1") is None
    line = ray_version_problem({"ray_version": "2.1.0", "python_version": here}, "h:1")
    assert line is not None and "\n" not in line
    assert line.startswith("--ray-address h:1: the cluster runs Ray 2.1.0") and f"Ray {ray_here}" in line
    assert "ray==2.1.0" in line
    assert ray_version_problem({"ray_version": ray_here, "python_version": other_patch}, "h:1") is not None
    no_ray_env.setenv("RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL", "minor")
    assert ray_version_problem({"ray_version": ray_here, "python_version": other_patch}, "h:1") is None


def test_ray_address_is_checked_before_use(no_ray_env: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray")
    import socket

    from fne.compute import resolve_backend

    with pytest.raises(ValueError, match="give the head's HOST:PORT"):
        resolve_backend("ray", 2, "10.0.0.1")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    with pytest.raises(ValueError, match=f"--ray-address 127.0.0.1:{free}: cannot reach it"):
        resolve_backend("ray", 2, f"127.0.0.1:{free}")
    no_ray_env.setenv("RAY_AUTH_MODE", "token")
    with pytest.raises(ValueError, match="RAY_AUTH_MODE=token is set but no token was found"):
        resolve_backend("ray", 2, f"127.0.0.1:{free}")
