"""The generated files (Sources/CABI/Layout+Generated.swift, cleanclip/_structs.py) are what
scripts/gen_layouts.py makes from include/cleanclip.h now: a header change without regenerating
fails here, naming the file and its first differing line."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
GENERATED = ["Sources/CABI/Layout+Generated.swift", "bindings/python/cleanclip/_structs.py"]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("generated")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_layouts.py"), "--output-dir", str(out)], check=True)
    return out


@pytest.mark.parametrize("rel", GENERATED)
def test_committed_file_is_up_to_date(fresh, rel):
    committed = (ROOT / rel).read_text().splitlines()
    expected = (fresh / rel).read_text().splitlines()
    for i, (a, b) in enumerate(zip(committed, expected), 1):
        if a != b:
            pytest.fail(f"{rel}:{i} differs from include/cleanclip.h (run python3 scripts/gen_layouts.py):\n"
                        f"  committed: {a}\n  generated: {b}")
    if len(committed) != len(expected):
        i = min(len(committed), len(expected)) + 1
        pytest.fail(f"{rel}:{i}: the committed file has {len(committed)} lines, the generator makes {len(expected)} "
                    "(run python3 scripts/gen_layouts.py)")
