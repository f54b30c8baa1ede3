"""Evaluators: run one picklable function over many items, serially, in processes or on Ray.

Every backend returns results in the order of the items. A call that raises, or whose
worker dies, is retried once; if it fails again its slot holds a :class:`Failed` record
and the run goes on::

    evaluator = make_evaluator("process", workers=2)
    try:
        results = evaluator.map(score_cell, cells, desc="scoring")
    finally:
        evaluator.close()
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Union

from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

BACKENDS = ("serial", "process", "ray")
MAX_ATTEMPTS = 2


@dataclass(frozen=True)
class Failed:
    """The record left for an item that failed on every attempt."""

    error: str
    attempts: int


Result = Union[Any, Failed]


class Evaluator(Protocol):
    """What the scorers need from a backend."""

    workers: int

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, desc: str = "",
            progress: bool = True) -> List[Result]:
        """Apply ``fn`` to every item; failures become :class:`Failed` records."""

    def close(self) -> None:
        """Release workers; the evaluator may not be used afterwards."""


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _log_failures(results: List[Result], desc: str) -> None:
    failed = sum(isinstance(r, Failed) for r in results)
    if failed:
        logger.warning("%s: %d of %d items failed after %d attempts", desc or "map", failed,
                       len(results), MAX_ATTEMPTS)


class SerialEvaluator:
    """Runs every item in this process."""

    workers = 1

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, desc: str = "",
            progress: bool = True) -> List[Result]:
        results = [self._call(fn, item) for item in tqdm(items, desc=desc, disable=not progress)]
        _log_failures(results, desc)
        return results

    @staticmethod
    def _call(fn: Callable[[Any], Any], item: Any) -> Result:
        error = ""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return fn(item)
            except Exception as exc:  # a failing cell must not stop the run
                error = _describe(exc)
                logger.warning("attempt %d failed: %s", attempt, error)
        return Failed(error, MAX_ATTEMPTS)

    def close(self) -> None:
        return None


def threads_per_worker(workers: int, cpus: Optional[int] = None) -> int:
    """Torch threads for each of ``workers`` processes so that they do not oversubscribe."""
    cpus = cpus or os.cpu_count() or 1
    return max(1, cpus // max(1, workers))


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


class ProcessEvaluator:
    """A local pool of ``workers`` processes (spawned), each with its share of the cores."""

    def __init__(self, workers: int = 2, threads: Optional[int] = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers = workers
        self.threads = threads or threads_per_worker(workers)
        self._pool: Optional[ProcessPoolExecutor] = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(self.threads,))
        return self._pool

    def _restart(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, desc: str = "",
            progress: bool = True) -> List[Result]:
        results: Dict[int, Result] = {}
        errors: Dict[int, str] = {}
        with tqdm(total=len(items), desc=desc, disable=not progress) as bar:
            retry = self._round(fn, items, list(range(len(items))), results, errors, bar)
            for i in retry:  # the last attempt, one at a time: a worker-killing item fails alone
                if self._round(fn, items, [i], results, errors, bar):
                    results[i] = Failed(errors[i], MAX_ATTEMPTS)
        ordered = [results[i] for i in range(len(items))]
        _log_failures(ordered, desc)
        return ordered

    def _round(self, fn: Callable[[Any], Any], items: Sequence[Any], indices: List[int],
               results: Dict[int, Result], errors: Dict[int, str], bar: tqdm) -> List[int]:
        """Submit ``indices`` once; return those that must be tried again."""
        futures: Dict[int, Future] = {i: self._executor().submit(fn, items[i]) for i in indices}
        retry = []
        for i, future in futures.items():
            try:
                results[i] = future.result()
                bar.update(1)
            except BrokenProcessPool as exc:
                errors[i] = f"worker died: {_describe(exc)}"
                retry.append(i)
            except Exception as exc:  # the item's own error, raised in the worker
                errors[i] = _describe(exc)
                retry.append(i)
        if any(errors[i].startswith("worker died") for i in retry):
            logger.warning("a worker process died; restarting the pool")
            self._restart()
        return retry

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


class RayEvaluator:
    """Runs items as Ray tasks on a local Ray instance or an existing cluster."""

    def __init__(self, workers: int = 2, address: Optional[str] = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        try:
            import ray
        except ImportError:
            raise ValueError("the ray backend needs ray: pip install 'fne[ray]'") from None
        self._ray, self.workers, self.address = ray, workers, address
        if not ray.is_initialized():
            kwargs: Dict[str, Any] = {"address": address} if address else {"num_cpus": workers}
            ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING, **kwargs)
            self._started = True
        else:
            self._started = False

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any], *, desc: str = "",
            progress: bool = True) -> List[Result]:
        ray = self._ray
        threads = threads_per_worker(self.workers)
        task = ray.remote(num_cpus=1, max_retries=MAX_ATTEMPTS - 1, retry_exceptions=True)(_ray_call)
        refs = [task.remote(fn, item, threads) for item in items]
        results: List[Result] = []
        for ref in tqdm(refs, desc=desc, disable=not progress):
            try:
                results.append(ray.get(ref))
            except Exception as exc:  # a task error or a lost worker, after Ray's retry
                results.append(Failed(_describe(exc), MAX_ATTEMPTS))
        _log_failures(results, desc)
        return results

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()


def _ray_call(fn: Callable[[Any], Any], item: Any, threads: int) -> Any:
    _init_worker(threads)
    return fn(item)


def make_evaluator(backend: str = "serial", workers: int = 1,
                   ray_address: Optional[str] = None) -> Evaluator:
    """Create the evaluator for ``backend`` (``serial``, ``process`` or ``ray``).

    Args:
        backend: which backend.
        workers: parallel workers (ignored by ``serial``).
        ray_address: address of an existing Ray cluster; ``None`` starts a local instance.

    Raises:
        ValueError: for an unknown backend, ``workers < 1`` or a missing ray install.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if backend == "serial":
        return SerialEvaluator()
    if backend == "process":
        return ProcessEvaluator(workers)
    return RayEvaluator(workers, ray_address)


def add_evaluator_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--workers``, ``--backend`` and ``--ray-address`` to a script's parser."""
    parser.add_argument("--workers", type=int, default=1, help="parallel scoring workers")
    parser.add_argument("--backend", choices=BACKENDS, default=None,
                        help="serial, process or ray (default: serial for one worker, else process)")
    parser.add_argument("--ray-address", default=None,
                        help="address of a running Ray cluster (default: start a local instance)")


def resolve_backend(backend: Optional[str], workers: int, ray_address: Optional[str] = None) -> str:
    """The backend the options ask for (``None``: serial for one worker, else process).

    Raises:
        ValueError: for contradictory options, naming them.
    """
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"--workers must be an integer >= 1, got {workers!r}")
    chosen = backend or ("serial" if workers == 1 else "process")
    if chosen not in BACKENDS:
        raise ValueError(f"unknown backend {chosen!r}; choose one of {', '.join(BACKENDS)}")
    if ray_address and chosen != "ray":
        raise ValueError("--ray-address needs --backend ray")
    if chosen == "serial" and workers != 1:
        raise ValueError("--backend serial runs one worker; drop --workers or pick process/ray")
    return chosen


def evaluator_for(backend: Optional[str], workers: int, ray_address: Optional[str] = None) -> Optional[Evaluator]:
    """The evaluator for these options; ``None`` means score in this process (serial).

    Raises:
        ValueError: see :func:`resolve_backend`.
    """
    chosen = resolve_backend(backend, workers, ray_address)
    return None if chosen == "serial" else make_evaluator(chosen, workers, ray_address)
