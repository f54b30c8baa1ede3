"""The archive: entries by key, eliminations, the pluggable pick order, its state."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from fne.evolution.archive import Archive, clean_scores
from fne.evolution.evolution import Evolution
from fne.evolution.fitness import to_objectives
from fne.evolution.ranking import Ranking
from fne.evolution.selection import pick_order
from fne.genotopheno import get_space

PROXIES = ("naswot", "params")


def cells(n: int, seed: int = 0) -> list[Any]:
    space, rng = get_space("nb201"), np.random.default_rng(seed)
    out: dict = {}
    while len(out) < n:
        g = space.sample(rng)
        out.setdefault(space.canonical(g), g)
    return list(out.values())


def scores_for(n: int, seed: int = 0, failed: Sequence[int] = ()) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = [{"naswot": float(rng.normal()), "params": float(rng.random())} for _ in range(n)]
    for i in failed:
        rows[i]["naswot"] = math.nan
    return rows


class Counted:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, scores: Sequence[dict]) -> np.ndarray:
        self.calls += 1
        return to_objectives(scores, PROXIES)


def filled(n: int = 10, failed: Sequence[int] = (), **kw: Any) -> Archive:
    archive = Archive(get_space("nb201"), PROXIES, Counted(), **kw)
    for g, s in zip(cells(n), scores_for(n, failed=failed), strict=False):
        archive.add(g, s)
    return archive


def test_entries_are_kept_by_canonical_key() -> None:
    archive = filled(5)
    genotypes = cells(5)
    assert len(archive) == 5 and all(archive.key(g) in archive for g in genotypes)
    assert archive.genotype(archive.key(genotypes[2])) == genotypes[2]
    entry = archive.entry(archive.key(genotypes[0]))
    assert entry["arch"] == get_space("nb201").format(genotypes[0]) and set(entry["scores"]) == set(PROXIES)


@pytest.mark.parametrize("failed", [(), (1, 4), (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)])
def test_pick_order_of_eligible_rows_matches_their_own_matrix(failed: Sequence[int]) -> None:
    archive = filled(10, failed=failed)
    keys = [archive.key(g) for g in cells(10)]
    archive.eliminate([keys[0], keys[4], keys[7]])
    eligible = [k for k in keys if k not in {keys[0], keys[4], keys[7]}]
    own = pick_order(to_objectives([archive.entry(k)["scores"] for k in eligible], PROXIES))
    assert archive.pick_order() == [eligible[i] for i in own]
    assert archive.eligible() == eligible


def test_the_objective_matrix_is_computed_once_until_a_cell_is_added() -> None:
    archive = filled(6)
    counted = archive._objectives
    archive.pick_order()
    archive.eliminate([archive.pick_order()[0]])
    archive.pick_order()
    archive.objectives_of(archive.eligible())
    assert counted.calls == 1
    archive.add(cells(7)[-1], scores_for(7)[-1])
    archive.pick_order()
    assert counted.calls == 2 and archive.objective_matrix().shape == (7, 2)


def test_eliminated_cells_leave_the_pick_and_final_winners_head_it() -> None:
    archive = filled(8)
    order = archive.pick_order()
    archive.eliminate([order[0]])
    assert sorted(archive.pick_order()) == sorted(order[1:]) and archive.eliminated == (order[0],)
    archive.set_final_winners([order[5], order[3]])
    assert archive.pick_order()[:2] == [order[5], order[3]]
    assert sorted(archive.pick_order()) == sorted(order[1:])
    archive.eliminate([order[5]])
    assert archive.pick_order()[0] == order[3] and order[5] not in archive.pick_order()


def test_a_ranking_is_pluggable() -> None:
    by_params = filled(9, ranking=lambda F: np.argsort(F[:, 1], kind="stable"))  # params: higher is better
    params = {k: by_params.entry(k)["scores"]["params"] for k in by_params.eligible()}
    assert by_params.pick_order() == sorted(params, key=lambda k: -params[k])


@pytest.mark.parametrize(
    "bad", [lambda F: np.arange(len(F) - 1), lambda F: np.zeros(len(F), dtype=int), lambda F: np.linspace(0, 1, len(F))]
)
def test_a_ranking_that_is_no_permutation_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="ranking must return a permutation of the 4 row indices"):
        filled(4, ranking=bad).pick_order()
    with pytest.raises(ValueError, match="ranking must be callable"):
        Archive(get_space("nb201"), PROXIES, Counted(), ranking="rank_sum")  # type: ignore[arg-type]


def test_state_round_trip_and_a_bad_state_changes_nothing() -> None:
    archive = filled(6, failed=(2,))
    order = archive.pick_order()
    archive.eliminate(order[:2])
    archive.set_final_winners(order[2:3])
    archive.set_reference(order[3:])
    state = archive.state_dict()
    assert list(state) == ["archive", "eliminated", "final_winners", "reference"]
    copy = Archive(get_space("nb201"), PROXIES, Counted())
    copy.load_state_dict(state)
    assert copy.state_dict()["eliminated"] == state["eliminated"] and copy.pick_order() == archive.pick_order()
    with pytest.raises(ValueError, match="scores lack proxies"):
        copy.load_state_dict(
            dict(
                state, archive=state["archive"] + [["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", {"naswot": 1.0}]]
            )
        )
    assert len(copy) == 6
    legacy = {"archive": state["archive"], "eliminated": state["eliminated"]}
    copy.load_state_dict(legacy)
    assert copy.final_winners == () and copy.reference == ()
    with pytest.raises(ValueError, match="reference names cells that are not in the archive"):
        copy.load_state_dict(dict(state, reference=["nope"]))
    assert copy.reference == ()


def test_a_reference_ranking_gets_the_reference_rows() -> None:
    seen: list[Any] = []

    class InOrder(Ranking):
        @property
        def uses_reference(self) -> bool:
            return True

        def order(self, objectives: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
            seen.append(reference)
            return np.arange(len(objectives))

    archive = filled(6, ranking=InOrder())
    archive.pick_order()
    assert seen == [None]
    keys = archive.eligible()
    archive.set_reference(keys[:3])
    archive.pick_order()
    np.testing.assert_array_equal(seen[-1], archive.objectives_of(keys[:3]))
    with pytest.raises(ValueError, match="reference cells must be archived"):
        archive.set_reference(["nope"])


def test_clean_scores_reads_json_nulls_and_names_what_is_missing() -> None:
    assert math.isnan(clean_scores({"naswot": None, "params": 2}, PROXIES)["naswot"])
    with pytest.raises(ValueError, match=r"scores lack proxies \['params'\]"):
        clean_scores({"naswot": 1.0}, PROXIES)


class Scorer:
    proxies = PROXIES

    def __init__(self, space: Any) -> None:
        self.space = space

    def score_many(self, genotypes: Sequence[Any], progress: bool = True) -> list[dict]:
        return [
            {
                "naswot": float(sum(op == "nor_conv_3x3" for op in g.ops)),
                "params": float(sum(op != "none" for op in g.ops)),
            }
            for g in genotypes
        ]


def test_evolution_picks_with_the_ranking_it_is_given() -> None:
    space = get_space("nb201")
    worst_first = Evolution(
        space=space,
        scorer=Scorer(space),
        pop_size=6,
        generations=3,
        seed=0,
        ranking=lambda F: pick_order(F)[::-1],
        survival="nsga2",
    )
    result = worst_first.run(progress=False)
    default = Evolution(
        space=space, scorer=Scorer(space), pop_size=6, generations=3, seed=0, ranking=pick_order, survival="nsga2"
    )
    expected = default.run(progress=False)
    assert result.best == default.archive.entry(default.pick_ranking()[-1]) != expected.best
    strip = [{k: v for k, v in h.items() if k != "best"} for h in result.history]
    assert strip == [{k: v for k, v in h.items() if k != "best"} for h in expected.history]
    with pytest.raises(ValueError, match="ranking must be callable"):
        Evolution(space=space, scorer=Scorer(space), ranking="rank_sum")  # type: ignore[arg-type]


def test_the_front_leaves_out_cells_that_compute_nothing() -> None:
    space = get_space("nb201")
    archive = Archive(space, PROXIES, Counted(), cost_axis="ms")
    texts = {
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|": (9.0, 3.0),
        "|skip_connect~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_1x1~2|": (5.0, 2.0),
        "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|": (0.0, 0.5),  # no path to the output
        "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|": (1.0, 1.0),
    }
    for text, (naswot, ms) in texts.items():
        archive.add(space.parse(text), {"naswot": naswot, "params": -naswot}, {"ms": ms})
    order = archive.pick_order()
    dead = [k for k in order if not space.computes(archive.genotype(k))]
    assert len(dead) == 1 and dead[0] in order  # ranked like any cell
    front = archive.front()
    assert dead[0] not in front
    assert [archive.axis_costs([k])[0] for k in front] == [3.0, 2.0, 1.0]
