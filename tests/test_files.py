"""Tests of fne.files: atomic writers (bytes, JSON, torch) and the ``--out`` folder check."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch

from fne.files import atomic_save_torch, atomic_write, atomic_write_json, check_out_folder


def test_atomic_save_torch_loads_back_with_the_plain_file_mode(tmp_path: Path) -> None:
    state = {"w": torch.arange(6.0).view(2, 3), "epoch": 3, "nested": {"rng": torch.Generator().get_state()}}
    old = os.umask(0o027)
    try:
        path = atomic_save_torch(tmp_path / "sub" / "state.pt", state)
    finally:
        os.umask(old)
    assert path == tmp_path / "sub" / "state.pt"
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    assert torch.equal(loaded["w"], state["w"]) and loaded["epoch"] == 3
    assert torch.equal(loaded["nested"]["rng"], state["nested"]["rng"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["state.pt"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "doc.json"
    atomic_write_json(path, {"a": 1})

    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, fail)
    assert path.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["doc.json"]


def test_check_out_folder_accepts_folders_and_paths_to_create(tmp_path: Path) -> None:
    assert check_out_folder(tmp_path) == tmp_path
    assert check_out_folder(str(tmp_path / "a" / "b")) == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("error", [ValueError, NotADirectoryError])
def test_check_out_folder_names_the_file_in_the_way(tmp_path: Path, error: type[Exception]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("mine")
    with pytest.raises(error) as info:
        check_out_folder(blocker, error)
    assert f"--out {blocker} exists and is not a folder" in str(info.value)
    assert "is a file, not a folder; choose another --out" in str(info.value)
    with pytest.raises(error) as info:
        check_out_folder(blocker / "run" / "x", error)
    assert f"--out {blocker / 'run' / 'x'} lies below {blocker}, which is a file" in str(info.value)
    assert f"{blocker}, which is a file, not a folder; choose another --out" in str(info.value)
    assert blocker.read_text() == "mine"
