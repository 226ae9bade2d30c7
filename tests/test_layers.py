"""The import layers and the no-cycle rule (import-linter contracts in pyproject.toml), also
checked by a plain pytest run; and no import of the library hidden inside a function, except
optional heavy dependencies and the CLI's start-up imports."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: modules that may import the library lazily (start-up time of the command line)
LAZY_OK = {"cli.py", "demo.py"}


def test_import_contracts_are_kept() -> None:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(exe).exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    proc = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_no_library_import_inside_a_function() -> None:
    hidden = []
    for path in sorted((ROOT / "src" / "landmarks").rglob("*.py")):
        if path.name in LAZY_OK:
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"^\s+(from landmarks[\w.]* import|import landmarks)", line):
                hidden.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not hidden, "imports of the library inside functions:\n" + "\n".join(hidden)
