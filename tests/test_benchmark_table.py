"""Benchmark tables: one reader that checks the whole table, names the file, row and column, and
the search's ``--benchmark`` look-up of the pick in the ``--benchmark-metric`` column."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from fne.genotopheno import get_space
from fne.options import option_flags
from fne.search.benchmark_table import check_benchmark, lookup_benchmark, read_benchmark, read_rows
from fne.search.config import SearchConfig

CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
OTHER = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "t.csv"
    path.write_text(f"arch_str,acc,note\n{CELL},91.5,a\n{OTHER},,b\n,80.0,c\n{OTHER},nan,d\n{OTHER},10.0,e\n")
    return path


def test_rows_without_a_value_are_left_out(table: Path) -> None:
    rows = read_rows(table, ("arch_str", "acc"), space=get_space("nb201"))
    assert [(r["arch_str"], r["note"]) for r in rows] == [(CELL, "a"), (OTHER, "e")]


def test_a_missing_column_is_named_with_its_option_and_the_files_columns(table: Path) -> None:
    with pytest.raises(ValueError) as info:
        read_rows(table, ("arch_str", "c10"), flag="--ground-truth", column_flags={"c10": "--metric"})
    message = str(info.value)
    assert f"--ground-truth {table}: missing column(s) ['c10' (--metric)]" in message
    assert "its columns are arch_str, acc, note" in message


def test_missing_and_unreadable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape(f"--benchmark {tmp_path / 'no.csv'} does not exist")):
        read_rows(tmp_path / "no.csv", flag="--benchmark")
    with pytest.raises(FileNotFoundError, match="is a folder"):
        read_rows(tmp_path)
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00\x9c not text\n")
    with pytest.raises(ValueError, match=re.escape(f"benchmark table {binary} is not a readable CSV file")):
        read_rows(binary)


def test_the_first_bad_cell_is_named_by_row_and_column(table: Path) -> None:
    lines = table.read_text().splitlines()
    lines[2] = lines[2].replace("none", "conv_7x7", 1)  # row 3: not a genotype
    lines[5] = lines[5].replace("10.0", "high")  # row 6: not a number
    table.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError) as info:
        read_rows(table, ("arch_str", "acc"), space=get_space("nb201"), flag="--benchmark")
    message = str(info.value)
    assert message.startswith(f"--benchmark {table}, row 3: arch_str '|conv_7x7~0|")
    assert "is not a nb201 genotype" in message and "(1 more bad cells)" in message
    with pytest.raises(ValueError, match="row 6: acc 'high' is not a number"):
        read_rows(table, ("arch_str", "acc"))  # without a space, genotypes are not checked


def test_check_benchmark_names_the_benchmark_options(table: Path) -> None:
    assert check_benchmark(table, get_space("nb201"), "acc") == table
    with pytest.raises(ValueError, match=re.escape("['c10_test_200ep' (--benchmark-metric)]")):
        check_benchmark(table, get_space("nb201"), "c10_test_200ep")
    with pytest.raises(ValueError, match="is not a darts genotype"):
        check_benchmark(table, get_space("darts"), "acc")


def test_lookup_by_text_or_canonical_form(table: Path) -> None:
    space = get_space("nb201")
    accuracies = read_benchmark(table, "acc")
    assert accuracies == {CELL: 91.5, OTHER: 10.0}
    assert lookup_benchmark(accuracies, space, CELL) == 91.5
    unused_node = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"  # the same network as OTHER
    assert lookup_benchmark(accuracies, space, unused_node) == 10.0
    assert lookup_benchmark(accuracies, space, CELL.replace("avg_pool_3x3", "nor_conv_1x1")) is None


def test_the_benchmark_metric_is_an_option_with_the_previous_default() -> None:
    assert SearchConfig().benchmark_metric == "c10_test_200ep"
    assert "--benchmark-metric" in option_flags(SearchConfig)


def test_the_pick_is_looked_up_in_the_benchmark_metric_column(tmp_path: Path) -> None:
    from fne.search.run import run_search

    data = tmp_path / "data" / "cifar10"
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, n in (("tiny_train.npz", 120), ("tiny_test.npz", 20)):
        np.savez(data / name, x=rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), y=np.arange(n) % 10)
    tiny = dict(
        data_dir=str(tmp_path / "data"),
        out=str(tmp_path / "run"),
        pop_size=3,
        generations=0,
        tournament_every=0,
        final_tournament_size=0,
        seed=0,
        device="cpu",
        workers=1,
        threads=1,
        build_kwargs={"C": 4, "N": 1},
        proxy_batch=16,
    )
    pick = run_search(SearchConfig(**tiny), progress=False)["best"]["arch"]
    bench = tmp_path / "bench.csv"
    bench.write_text(f"arch_str,c10_test_200ep,c100_test\n{pick},90.0,66.5\n")
    result = run_search(
        SearchConfig(**tiny, resume=True, benchmark=str(bench), benchmark_metric="c100_test"), progress=False
    )
    assert result["benchmark"] == {"csv": str(bench), "c100_test": 66.5}
