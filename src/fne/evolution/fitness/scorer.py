"""The cached :class:`Scorer` and its JSON cache file.

Scores are cached by the cell's canonical form (isomorphic cells share an entry) and a
digest of every setting that changes a score: the space, seed, network build arguments,
the batch (shapes and values) and :data:`FITNESS_VERSION`. The device is not part of
the key: CPU and CUDA agree up to floating-point rounding. Each proxy is seeded on its
own, so an entry can be completed later with more proxies.

An entry holds the scores of the first genotype of its canonical class that was scored.
Equivalent genotypes can differ in weights that do not reach the output (an op on an edge
whose node is cut off still has parameters and still draws from the seeded generator), so
their own scores can differ from that entry; a search that starts from a given cache file
is deterministic, but two cache files filled in different orders can hold different
scores for the same class.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import time
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from fne.compute import Evaluator, Failed, SerialEvaluator, resolve_device
from fne.evolution.fitness.registry import get_proxy
from fne.evolution.fitness.score_cell import Scores, score_genotype
from fne.files import atomic_write_json
from fne.genotopheno import SearchSpace, get_space
from fne.progress import progress_bar

logger = logging.getLogger(__name__)

FITNESS_VERSION = 5
"""Bumped whenever a built-in proxy changes, so that older cache entries are not reused."""

DEFAULT_PROXIES = ("ntk", "naswot", "grad_corr")
"""The three mission proxies."""


def batch_fingerprint(inputs: torch.Tensor, targets: torch.Tensor) -> str:
    """A short hash of a batch's shapes and values (part of the cache key)."""
    digest = hashlib.sha1()
    for tensor in (inputs, targets):
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def _to_json_value(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _from_json_value(value: float | None) -> float:
    return math.nan if value is None else float(value)


def read_cache_file(path: Path) -> dict[str, Scores]:
    """Entries of a JSON score cache (``{}`` when the file does not exist).

    Raises:
        ValueError: the file is not a score cache.
    """
    if not path.is_file():
        return {}
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        entries = data["entries"]
        return {key: {p: _from_json_value(v) for p, v in scores.items()} for key, scores in entries.items()}
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError, ValueError) as err:
        raise ValueError(f"{path}: not a fitness score cache ({err})") from err


def read_or_set_aside(path: Path) -> dict[str, Scores]:
    """Entries of the cache at ``path``; a corrupt file is renamed aside (not deleted) with a
    warning and an empty cache is returned, since the scores can always be computed again."""
    try:
        return read_cache_file(path)
    except ValueError as err:
        aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        path.replace(aside)
        logger.warning("%s; it is only a cache of scores, so it was moved to %s and will be rebuilt", err, aside)
        return {}


def write_cache_file(path: Path, entries: Mapping[str, Scores]) -> None:
    """Write ``entries`` as JSON atomically (temporary file in the same folder, then rename)."""
    payload = {
        "version": FITNESS_VERSION,
        "entries": {k: {p: _to_json_value(v) for p, v in s.items()} for k, s in entries.items()},
    }
    atomic_write_json(path, payload, indent=None, sort_keys=True)


def _check_batch(inputs: torch.Tensor, targets: torch.Tensor) -> None:
    if not torch.is_tensor(inputs) or inputs.dim() != 4 or inputs.shape[0] < 2:
        raise ValueError(
            f"inputs must be an image batch (B >= 2, C, H, W), got "
            f"{tuple(inputs.shape) if torch.is_tensor(inputs) else type(inputs).__name__}"
        )
    if not torch.is_tensor(targets) or targets.shape[:1] != inputs.shape[:1]:
        raise ValueError(
            f"targets must have shape ({inputs.shape[0]},), got "
            f"{tuple(targets.shape) if torch.is_tensor(targets) else type(targets).__name__}"
        )


def _check_proxies(proxies: Sequence[str]) -> tuple:
    names = tuple(proxies)
    if not names:
        raise ValueError("at least one proxy is needed")
    for name in names:
        get_proxy(name)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"proxies listed twice: {duplicates}")
    return names


class Scorer:
    """Scores cells with training-free proxies on a fixed batch, with a cache.

    Example::

        scorer = Scorer(get_space("nb201"), inputs=x, targets=y)
        scores = scorer.score_many(genotypes)           # [{"ntk": .., "naswot": .., ...}, ...]
        objectives = to_objectives(scores, scorer.proxies)

    Attributes:
        num_evaluated: cells actually evaluated (cache hits excluded).
        num_cache_hits: cells served from the cache.
    """

    def __init__(
        self,
        space: str | SearchSpace,
        proxies: Sequence[str] = DEFAULT_PROXIES,
        *,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        device: str = "auto",
        seed: int = 0,
        cache_file: str | Path | None = None,
        build_kwargs: Mapping[str, Any] | None = None,
        flush_every: int = 100,
        evaluator: Evaluator | None = None,
    ) -> None:
        """Set up a scorer.

        Args:
            space: a search space or its registered name.
            proxies: registered proxy names, in the order of the objective columns.
            inputs: the image batch every cell is scored on ``(B, C, H, W)``.
            targets: its labels ``(B,)``.
            device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
            seed: seed of the network initialisation and of each proxy.
            cache_file: JSON file to read cached scores from and write new ones to.
            build_kwargs: extra ``space.build`` arguments, e.g. ``{"C": 8, "N": 1}``; None
                takes the space's ``score`` preset, ``{}`` its full network.
            flush_every: write the cache file after this many new evaluations.
            evaluator: backend that scores uncached cells (``fne.compute``);
                None scores them in this process with one torch thread, through the same
                code as a worker. A cell that fails on every attempt (it does not build,
                a proxy raises, memory runs out) gets NaN for every proxy (the worst
                score) and is counted in ``num_failed``; the run goes on.

        Raises:
            ValueError: unknown or repeated proxies, a malformed batch or a bad device.
                A cache file that is not a score cache is moved aside with a warning.
        """
        self.space = get_space(space) if isinstance(space, str) else space
        self.proxies = _check_proxies(proxies)
        _check_batch(inputs, targets)
        self.device = resolve_device(device)
        self.inputs, self.targets = inputs.to(self.device), targets.to(self.device)
        self.seed = int(seed)
        self.build_kwargs = self.space.preset("score") if build_kwargs is None else dict(build_kwargs)
        self.cache_file = Path(cache_file) if cache_file is not None else None
        self.flush_every = max(1, int(flush_every))
        self.num_evaluated = 0
        self.num_cache_hits = 0
        self.num_failed = 0
        self.failed: list[str] = []
        self.seconds = 0.0
        self.evaluator: Evaluator = evaluator if evaluator is not None else SerialEvaluator()
        self._settings = self._settings_digest()
        self._cache: dict[str, Scores] = read_or_set_aside(self.cache_file) if self.cache_file else {}
        self._unsaved = 0

    def _settings_digest(self) -> str:
        settings = {
            "version": FITNESS_VERSION,
            "space": self.space.name,
            "seed": self.seed,
            "build": sorted((k, repr(v)) for k, v in self.build_kwargs.items()),
            "batch": batch_fingerprint(self.inputs, self.targets),
        }
        return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]

    def _as_genotype(self, genotype: Any) -> Hashable:
        if isinstance(genotype, str):
            return self.space.parse(genotype)
        self.space.validate(genotype)
        return genotype

    def cache_key(self, genotype: Any) -> str:
        """The cache key of ``genotype`` (genotype value or text) under this scorer's settings."""
        return f"{self._settings}|{self.space.canonical(self._as_genotype(genotype))}"

    def _missing(self, key: str) -> list[str]:
        cached = self._cache.get(key, {})
        return [p for p in self.proxies if p not in cached]

    def score(self, genotype: Any) -> Scores:
        """Scores of one cell (genotype value or text): ``{proxy: value}``, NaN when failed."""
        return self.score_many([genotype], progress=False)[0]

    def score_many(self, genotypes: Sequence[Any], progress: bool = True) -> list[Scores]:
        """Scores of many cells, in order; cached cells are not evaluated again.

        Args:
            genotypes: genotype values or texts.
            progress: show a tqdm progress bar over the cells to evaluate.
        """
        cells = [self._as_genotype(g) for g in genotypes]
        keys = [self.cache_key(g) for g in cells]
        todo: dict[str, Hashable] = {}
        for key, cell in zip(keys, cells, strict=False):
            if self._missing(key):
                todo.setdefault(key, cell)
        self.num_cache_hits += len(keys) - len(todo)
        start = time.perf_counter()
        self._evaluate(todo, progress)
        if self._unsaved:
            self.flush()
        self.seconds += time.perf_counter() - start
        return [{p: self._cache[k][p] for p in self.proxies} for k in keys]

    def _evaluate(self, todo: Mapping[str, Hashable], progress: bool) -> None:
        """Score the uncached cells through the evaluator, flushing the cache every
        ``flush_every`` cells; failed cells get NaN scores and are counted."""
        if not todo:
            return
        keys = list(todo)
        jobs = [(self.space.format(todo[k]), self._missing(k)) for k in keys]
        task = functools.partial(
            _score_job,
            self.space,
            inputs=self.inputs.cpu(),
            targets=self.targets.cpu(),
            device=str(self.device),
            seed=self.seed,
            build_kwargs=self.build_kwargs,
        )
        with progress_bar(len(jobs), "scoring", unit="cell", enabled=progress, leave=False) as bar:
            for key, (text, missing), result in zip(keys, jobs, self.evaluator.imap(task, jobs), strict=False):
                self._store(key, text, missing, result)
                bar.update(1)

    def _store(self, key: str, text: str, missing: list[str], result: Any) -> None:
        if isinstance(result, Failed):
            logger.warning("cell %s failed to score (worst score given): %s", text, result.error)
            self.num_failed += 1
            self.failed.append(text)
            result = {name: math.nan for name in missing}
        self._cache.setdefault(key, {}).update(result)
        self.num_evaluated += 1
        self._unsaved += 1
        if self._unsaved >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        """Write the cache file (merged with what is on disk), if one was given."""
        if self.cache_file is None:
            self._unsaved = 0
            return
        merged = read_or_set_aside(self.cache_file)
        for key, scores in self._cache.items():
            merged.setdefault(key, {}).update(scores)
        write_cache_file(self.cache_file, merged)
        self._unsaved = 0
        logger.debug("wrote %d cache entries to %s", len(merged), self.cache_file)


def _score_job(
    space: SearchSpace,
    job: tuple,
    *,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    device: str,
    seed: int,
    build_kwargs: Mapping[str, Any],
) -> Scores:
    """One evaluator task: ``job`` is ``(genotype text, proxies)``."""
    text, proxies = job
    return score_genotype(space, text, proxies, inputs, targets, device, seed, build_kwargs)
