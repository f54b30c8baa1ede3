"""Packaging: a light top-level import, and README commands that CI really runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_fne_is_light() -> None:
    code = "import sys, fne; heavy = [m for m in ('torch', 'numpy', 'pymoo') if m in sys.modules]; print(heavy)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_import_genotopheno_builds_nothing() -> None:
    code = (
        "import torch, fne.genotopheno as g; import sys; "
        "print(sorted(g.list_spaces())); "
        "print(any(m in sys.modules for m in ('fne.data', 'fne.evolution', 'fne.search', 'fne.training')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "nb201" in out.stdout and out.stdout.strip().endswith("False")


def readme_commands() -> list:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text)


def test_ci_runs_readme_install_and_test_commands() -> None:
    main_job, tests = readme_commands()[:2]
    ci = (ROOT / ".ci" / "run").read_text()
    install, test_cmd = tests.split(" && ")[1], tests.split(" && ")[-1]
    ci_lines = [line.strip() for line in ci.splitlines()]
    assert ci_lines.index("pip install torch==2.13.0") < ci_lines.index(install) < ci_lines.index(test_cmd)
    assert main_job.startswith('pip install torch==2.13.0 && pip install -e ".[dev')
    assert "src/NAS_on_cifar10.py" in main_job


def test_evolution_exports_resolve_lazily() -> None:
    code = (
        "import sys, fne.evolution as fe; light = not any(m in sys.modules for m in ('matplotlib', 'ray')); "
        "missing = [n for n in fe.__all__ if getattr(fe, n, None) is None]; print(light, missing)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True []"


def test_evolution_unknown_name_raises_attribute_error() -> None:
    import fne.evolution as fe

    with pytest.raises(AttributeError, match="NoSuchThing"):
        _ = fe.NoSuchThing
