"""Thread discipline and one scoring path: every backend and worker count gives the same bits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fne.compute import SerialEvaluator, make_evaluator, torch_threads
from fne.evolution.fitness import Scorer, register_proxy, unregister_proxy
from fne.evolution.tournament import DartsTournament
from fne.genotopheno import get_space

BACKENDS = [("serial", 1), ("process", 1), ("process", 2), ("process", 3), ("ray", 2)]


def torch_thread_counts(_: int) -> tuple:
    return torch.get_num_threads(), torch.get_num_interop_threads()


def _counter():
    def counts(_: int) -> tuple:  # defined here so that Ray ships it by value
        import torch

        return torch.get_num_threads(), torch.get_num_interop_threads()

    return counts


def _evaluator(backend: str, workers: int, threads: int = 1):
    if backend == "ray":
        pytest.importorskip("ray")
    return make_evaluator(backend, workers, threads=threads)


@pytest.mark.parametrize("backend, workers", [("serial", 1), ("process", 2), ("ray", 2)])
def test_every_worker_runs_with_the_threads_asked_for(backend: str, workers: int) -> None:
    for threads in (1, 2):
        ev = _evaluator(backend, workers, threads)
        try:
            counts = ev.map(_counter() if backend == "ray" else torch_thread_counts, list(range(4)), progress=False)
        finally:
            ev.close()
        assert all(intra == threads for intra, _ in counts), counts
        if backend != "serial":  # a fresh worker also gets its inter-op pool sized
            assert all(inter == threads for _, inter in counts), counts


def test_serial_calls_restore_the_callers_threads() -> None:
    before = torch.get_num_threads()
    with torch_threads(2):
        assert SerialEvaluator(threads=1).map(torch_thread_counts, [0], progress=False)[0][0] == 1
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == before


@pytest.fixture(scope="module")
def cells_and_batch():
    space = get_space("nb201")
    rng = np.random.default_rng(3)
    cells = [space.sample(rng) for _ in range(6)]
    gen = torch.Generator().manual_seed(1)
    return space, cells, torch.randn(8, 3, 16, 16, generator=gen), torch.arange(8) % 10


def _score(space, cells, x, y, evaluator) -> list[dict]:
    scorer = Scorer(
        space,
        ("ntk", "naswot", "grad_corr", "synflow"),
        inputs=x,
        targets=y,
        device="cpu",
        build_kwargs={"C": 4, "N": 1},
        evaluator=evaluator,
    )
    return scorer.score_many(cells, progress=False)


def _bits(scores: list[dict]) -> list[tuple]:
    return [tuple(float(v).hex() for v in s.values()) for s in scores]


def test_scores_are_bit_identical_on_every_backend_and_worker_count(cells_and_batch) -> None:
    space, cells, x, y = cells_and_batch
    reference = _bits(_score(space, cells, x, y, None))
    for backend, workers in BACKENDS:
        ev = _evaluator(backend, workers)
        try:
            assert _bits(_score(space, cells, x, y, ev)) == reference, (backend, workers)
        finally:
            ev.close()


def _colour_data(n: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=gen)
    x = torch.randn(n, 3, 8, 8, generator=gen) * 0.5
    x[torch.arange(n), y] += 1.5
    return x, y


@pytest.mark.parametrize("backend, workers", [("process", 2), ("ray", 2)])
def test_each_tournament_is_bit_identical_with_parallel_workers(backend: str, workers: int) -> None:
    space = get_space("nb201")
    cells = [space.sample(np.random.default_rng(s)) for s in range(3)]

    def run(evaluator):
        t = DartsTournament(
            train=_colour_data(128, 1),
            val=_colour_data(64, 2),
            size=3,
            keep=1,
            steps=9,
            batch_size=8,
            weight_loss="each",
            build_kwargs={"C": 4, "N": 1, "num_classes": 3},
            evaluator=evaluator,
            chunk=4,
        )
        return t.run(space, cells, torch.Generator().manual_seed(0))

    serial = run(None)
    ev = _evaluator(backend, workers)
    try:
        parallel = run(ev)
    finally:
        ev.close()
    assert [w.hex() for w in parallel.weights] == [w.hex() for w in serial.weights]
    assert parallel.winners == serial.winners


@pytest.fixture
def exploding_proxy():
    @register_proxy("explodes_on_pool", higher_is_better=True)
    def explodes_on_pool(net, inputs, targets):
        if "avg_pool_3x3" in str(net):
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory")
        return 1.0

    try:
        yield "explodes_on_pool"
    finally:
        unregister_proxy("explodes_on_pool")


def test_serial_scoring_survives_a_failing_cell(cells_and_batch, exploding_proxy: str) -> None:
    from fne.evolution import Evolution

    space, _, x, y = cells_and_batch
    scorer = Scorer(
        space, (exploding_proxy, "params"), inputs=x, targets=y, device="cpu", build_kwargs={"C": 4, "N": 1}
    )
    result = Evolution(space=space, scorer=scorer, pop_size=6, generations=2, seed=0).run(progress=False)
    assert scorer.num_failed > 0 and len(scorer.failed) == scorer.num_failed
    assert all("avg_pool_3x3" in text for text in scorer.failed)
    assert result.evaluations == 18 and len(result.history) == 3
    failed = [scorer.score(text) for text in scorer.failed]
    assert failed and all(math.isnan(v) for s in failed for v in s.values())  # the worst score
