"""Every Python block of the README runs as written (against ../shared/data), so it cannot drift from the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_readme_has_python_blocks() -> None:
    assert python_blocks()


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_python_block_runs(index: int, shared_data: Path, tmp_path: Path) -> None:
    import pandas as pd

    # the files a block names as the user's own
    pd.DataFrame({"id": ["p1", "p2"], "body": ["Gravity bends light.", "Yeast leavens bread."]}).to_parquet(
        tmp_path / "my_passages.parquet"
    )
    code = python_blocks()[index]
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, f"README python block {index} failed:\n{code}\n{proc.stderr[-3000:]}"
