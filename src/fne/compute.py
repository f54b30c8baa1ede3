"""Evaluators: run one picklable function over many items, serially, in processes or on Ray.

Every backend runs its calls with the same explicit number of torch threads (intra-op
and inter-op, default 1), set by the library inside the worker, so a result does not
depend on the backend or on the number of workers: throughput comes from workers, not
from threads. Results come back in the order of the items. A call that raises, or whose
worker dies, is retried once; if it fails again its slot holds a :class:`Failed` record
and the run goes on::

    evaluator = make_evaluator("process", workers=2)
    try:
        results = evaluator.map(score_cell, cells, desc="scoring")
    finally:
        evaluator.close()

The serial evaluator is the same path with one worker, in this process: it sets the
thread count for the duration of each call and restores the caller's afterwards.

Workers do not outlive this process, however it ends (SIGKILL included): a process-pool
worker watches its parent and exits when it dies, and a local Ray instance started here
shares this process's fate (see :class:`ProcessEvaluator` and :class:`RayEvaluator`).

An existing Ray cluster (``ray_address``) is checked before it is used, within seconds
(:func:`fne.ray_cluster.check_ray_cluster`): its token is found where Ray's own command line
keeps it, and a cluster that cannot be used from here is one line naming what to set or check.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import multiprocessing
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from fne.options import option
from fne.progress import progress_bar
from fne.ray_cluster import RAY_MISSING, check_ray_cluster, first_line

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

BACKENDS = ("serial", "process", "ray")
MAX_ATTEMPTS = 2
DEFAULT_THREADS = 1
"""Torch threads per worker. One thread per worker keeps results identical across
backends and worker counts, and avoids the collapse of multi-threaded OpenMP kernels
when another process shares the cores."""


@dataclass(frozen=True)
class Failed:
    """The record left for an item that failed on every attempt."""

    error: str
    attempts: int


Result = Any | Failed


class Evaluator(Protocol):
    """What the scorers and tournaments need from a backend."""

    workers: int
    threads: int

    def imap(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Result]:
        """Yield ``fn(item)`` for every item, in order; failures become :class:`Failed` records."""

    def map(
        self, fn: Callable[[Any], Any], items: Sequence[Any], *, desc: str = "", progress: bool = True
    ) -> list[Result]:
        """All of :meth:`imap` as a list, with a progress bar."""

    def close(self) -> None:
        """Release workers; the evaluator may not be used afterwards."""


def usable_cpus() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # platforms without sched_getaffinity
        return max(1, os.cpu_count() or 1)


def threads_per_worker(workers: int, cpus: int | None = None) -> int:
    """Torch threads for each of ``workers`` processes that share ``cpus`` cores evenly."""
    cpus = cpus or usable_cpus()
    return max(1, cpus // max(1, workers))


def set_torch_threads(threads: int) -> None:
    """Set torch's intra-op threads and, if it is still possible, its inter-op threads."""
    import torch

    torch.set_num_threads(threads)
    if torch.get_num_interop_threads() != threads:
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:  # inter-op work already started in this process: keep its pool
            logger.debug("inter-op threads already fixed at %d", torch.get_num_interop_threads())


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run a block with ``threads`` intra-op threads, then restore the caller's count."""
    import torch

    before = torch.get_num_threads()
    set_torch_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check_threads(threads: Any) -> int:
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    return threads


def _check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    return workers


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _log_failures(results: list[Result], desc: str) -> None:
    failed = sum(isinstance(r, Failed) for r in results)
    if failed:
        logger.warning("%s: %d of %d items failed after %d attempts", desc or "map", failed, len(results), MAX_ATTEMPTS)


class _MapMixin:
    """``map`` on top of ``imap``: a list, a progress bar and a failure summary."""

    def imap(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Result]:
        raise NotImplementedError

    def map(
        self, fn: Callable[[Any], Any], items: Sequence[Any], *, desc: str = "", progress: bool = True
    ) -> list[Result]:
        results: list[Result] = []
        with progress_bar(len(items), desc or "map", enabled=progress, leave=False) as bar:
            for result in self.imap(fn, items):
                results.append(result)
                bar.update(1)
        _log_failures(results, desc)
        return results


class SerialEvaluator(_MapMixin):
    """Runs every item in this process, with ``threads`` torch threads during each call."""

    workers = 1

    def __init__(self, threads: int = DEFAULT_THREADS) -> None:
        self.threads = _check_threads(threads)

    def imap(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Result]:
        for item in items:
            yield self._call(fn, item)

    def _call(self, fn: Callable[[Any], Any], item: Any) -> Result:
        error = ""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with torch_threads(self.threads):
                    return fn(item)
            except Exception as exc:  # a failing item must not stop the run
                error = _describe(exc)
                logger.warning("attempt %d failed: %s", attempt, error)
        return Failed(error, MAX_ATTEMPTS)

    def close(self) -> None:
        return None


def _pack(fn: Callable[[Any], Any], item: Any) -> bytes:
    """``(fn, item)`` as plain pickle bytes.

    Torch's multiprocessing pickler would pass tensors as shared file descriptors, served
    by a background thread; a worker stopped mid-transfer (Ctrl-C) then leaves that thread
    a traceback to print. Plain bytes make a transfer one message that cannot be half-done.
    """
    return pickle.dumps((fn, item), protocol=pickle.HIGHEST_PROTOCOL)


def _run_packed(payload: bytes) -> bytes:
    """Run a call packed by :func:`_pack` in a worker; its result returns as plain pickle bytes too."""
    fn, item = pickle.loads(payload)
    return pickle.dumps(fn(item), protocol=pickle.HIGHEST_PROTOCOL)


PR_SET_PDEATHSIG = 1
"""Linux ``prctl`` option: the signal the kernel sends a process when its parent thread ends."""


class _StartingThread:
    """Tells a worker whether the thread that started it is its parent's main thread.

    A worker's arguments are pickled by the thread that starts it, so pickling records that
    thread. It matters because the kernel's parent-death signal follows the starting thread,
    not the whole parent process: a worker may only ask for it when that thread lives as long
    as the process.
    """

    def __init__(self, is_main: bool = False) -> None:
        self.is_main = is_main

    def __reduce__(self) -> tuple[type[_StartingThread], tuple[bool]]:
        return _StartingThread, (threading.current_thread() is threading.main_thread(),)


def _ask_kernel_for_parent_death_signal() -> None:
    """On Linux, have the kernel SIGKILL this process when its parent dies (``prctl``)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # no C library to ask: the parent watch alone serves
        return
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    if prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        logger.debug("prctl(PR_SET_PDEATHSIG) failed with errno %d", ctypes.get_errno())


def _watch_parent(parent: multiprocessing.process.BaseProcess) -> None:
    """Exit at once when ``parent`` dies: a daemon thread waits on its sentinel (a pipe that the
    parent holds open on POSIX, its process handle on Windows), which is ready only then."""

    def exit_when_parent_dies() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=exit_when_parent_dies, name="fne-parent-watch", daemon=True).start()


def _end_with_parent(starter: _StartingThread) -> None:
    """Make this worker process end when the process that started it dies, however it dies.

    Args:
        starter: the parent's thread that started this worker; when it is the main thread,
            Linux is also asked for a parent-death signal.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    if starter.is_main:
        _ask_kernel_for_parent_death_signal()
    _watch_parent(parent)  # a parent already dead is seen at once: its sentinel is ready


def _init_worker(threads: int, starter: _StartingThread) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _end_with_parent(starter)
    set_torch_threads(threads)


class ProcessEvaluator(_MapMixin):
    """A local pool of ``workers`` spawned processes with ``threads`` torch threads each.

    A worker exits as soon as this process dies, even when it is killed with SIGKILL and
    cannot stop its workers itself: each worker watches its parent's sentinel in a thread,
    and on Linux the kernel also sends it SIGKILL when the parent dies.
    """

    def __init__(self, workers: int = 2, threads: int = DEFAULT_THREADS) -> None:
        _check_workers(workers)
        self.workers = workers
        self.threads = _check_threads(threads)
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(self.threads, _StartingThread()),
            )
        return self._pool

    def _restart(self) -> None:
        logger.warning("a worker process died; restarting the pool")
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None

    def _submit(self, fn: Callable[[Any], Any], item: Any) -> Future:
        return self._executor().submit(_run_packed, _pack(fn, item))

    def imap(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Result]:
        futures: dict[int, Future] = {i: self._submit(fn, item) for i, item in enumerate(items)}
        try:
            for i in range(len(items)):
                yield self._collect(fn, items, i, futures)
        finally:
            for future in futures.values():
                future.cancel()

    def _collect(self, fn: Callable[[Any], Any], items: Sequence[Any], i: int, futures: dict[int, Future]) -> Result:
        """Item ``i``'s result; on failure it is tried once more, alone when its worker died."""
        try:
            return pickle.loads(futures[i].result())
        except BrokenProcessPool as exc:
            error = f"worker died: {_describe(exc)}"
            self._restart()
            result = self._retry(fn, items[i], error)
            for j in range(i + 1, len(items)):  # the broken pool lost them too
                futures[j] = self._submit(fn, items[j])
            return result
        except Exception as exc:  # the item's own error, raised in the worker
            return self._retry(fn, items[i], _describe(exc))

    def _retry(self, fn: Callable[[Any], Any], item: Any, error: str) -> Result:
        logger.warning("attempt 1 failed: %s", error)
        try:
            return pickle.loads(self._submit(fn, item).result())
        except BrokenProcessPool as exc:
            self._restart()
            return Failed(f"worker died: {_describe(exc)}", MAX_ATTEMPTS)
        except Exception as exc:
            return Failed(_describe(exc), MAX_ATTEMPTS)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def terminate(self) -> None:
        """Stop the workers at once (after an error or Ctrl-C in this process)."""
        if self._pool is None:
            return
        processes = list(getattr(self._pool, "_processes", {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)
        self._pool = None


class RayEvaluator(_MapMixin):
    """Runs items as Ray tasks (one CPU and ``threads`` torch threads each) on a local
    Ray instance or an existing cluster.

    Workers end when this process dies, however it dies. A local instance started here shares
    this process's fate: Ray has its services stopped when the process that started them dies
    (on Linux by the kernel, elsewhere by a reaper process or a job object), and the task
    workers end with them within seconds (Ray's node agents exit on their own once they have
    tried to report it, within a minute). On an existing cluster, Ray ends a driver's tasks
    when the driver dies.
    """

    def __init__(self, workers: int = 2, address: str | None = None, threads: int = DEFAULT_THREADS) -> None:
        _check_workers(workers)
        try:
            import ray
        except ImportError:
            raise ValueError(RAY_MISSING) from None
        self._ray, self.workers, self.address = ray, workers, address
        self.threads = _check_threads(threads)
        self._started = not ray.is_initialized()
        if not self._started:
            return
        if not address:
            ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING, num_cpus=workers)
            return
        check_ray_cluster(address)
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError or errors of its own here
            raise ValueError(f"--ray-address {address}: Ray cannot connect ({first_line(exc)})") from None

    def imap(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Result]:
        ray = self._ray
        task = ray.remote(num_cpus=1, max_retries=MAX_ATTEMPTS - 1, retry_exceptions=True)(_ray_call)
        refs = [task.remote(fn, item, self.threads) for item in items]
        for ref in refs:
            try:
                yield ray.get(ref)
            except Exception as exc:  # a task error or a lost worker, after Ray's retry
                yield Failed(_describe(exc), MAX_ATTEMPTS)

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()


def _ray_call(fn: Callable[[Any], Any], item: Any, threads: int) -> Any:
    set_torch_threads(threads)
    return fn(item)


def make_evaluator(
    backend: str = "serial", workers: int = 1, ray_address: str | None = None, threads: int = DEFAULT_THREADS
) -> Evaluator:
    """Create the evaluator for ``backend`` (``serial``, ``process`` or ``ray``).

    Args:
        backend: which backend.
        workers: parallel workers (``serial`` always runs one).
        ray_address: address of an existing Ray cluster; ``None`` starts a local instance.
        threads: torch threads of every worker (and of the serial evaluator's calls).

    Raises:
        ValueError: for an unknown backend, ``workers < 1``, ``threads < 1`` or a missing ray install.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    _check_workers(workers)
    if backend == "serial":
        return SerialEvaluator(threads)
    if backend == "process":
        return ProcessEvaluator(workers, threads)
    return RayEvaluator(workers, ray_address, threads)


DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class ComputeOptions:
    """Where and how work runs: the device and the evaluator's workers (a base of the run
    configurations, so that every command declares these options once)."""

    device: str = option("auto", "auto (CUDA when available), cpu, cuda or cuda:N")
    workers: int | None = option(None, "parallel workers (default: the usable cores on a CPU, 1 on a GPU)", low=1)
    backend: str | None = option(
        None, "serial, process or ray (default: serial for one worker, else process)", choices=BACKENDS
    )
    ray_address: str | None = option(None, "address of a running Ray cluster (default: a local instance)")
    threads: int = option(DEFAULT_THREADS, "torch threads per worker", low=1)

    def resolved_workers(self) -> int:
        """``workers``, or when it is None: one for ``backend`` serial, else :func:`default_workers`
        of ``device``.

        Raises:
            ValueError: ``workers`` is None and ``device`` is unknown or unavailable.
        """
        if self.workers is not None:
            return self.workers
        return 1 if self.backend == "serial" else default_workers(str(resolve_device(self.device)))


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` (or ``"cuda:N"``) into a ``torch.device``.

    ``"auto"`` is CUDA when available, else CPU.

    Raises:
        ValueError: an unknown name, or CUDA asked for but not available.
    """
    import torch

    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if isinstance(device, str) and (device == "cuda" or device.startswith("cuda:")):
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available")
        return torch.device(device)
    raise ValueError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'")


def default_workers(device: str = "cpu") -> int:
    """Workers when none are asked for: the usable cores on a CPU, one on a GPU."""
    return 1 if str(device).startswith("cuda") else usable_cpus()


def resolve_backend(backend: str | None, workers: int, ray_address: str | None = None) -> str:
    """The backend the options ask for (``None``: serial for one worker, else process).

    With ``ray_address``, the cluster is checked here (:func:`check_ray_cluster`, once per
    process and address), so that a run stops before it writes anything.

    Raises:
        ValueError: for contradictory options, naming them; ray asked for but not installed;
            a Ray cluster that cannot be used from here (one line naming what to set or check).
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
    if chosen == "ray" and importlib.util.find_spec("ray") is None:
        raise ValueError(RAY_MISSING)
    if chosen == "ray" and ray_address:
        check_ray_cluster(ray_address)
    return chosen


def evaluator_for(options: ComputeOptions) -> Evaluator:
    """The evaluator a run's compute options ask for (workers: :meth:`ComputeOptions.resolved_workers`).

    Raises:
        ValueError: see :func:`resolve_backend`; ``threads`` below 1.
    """
    workers = options.resolved_workers()
    chosen = resolve_backend(options.backend, workers, options.ray_address)
    _check_threads(options.threads)
    return make_evaluator(chosen, workers, options.ray_address, options.threads)
