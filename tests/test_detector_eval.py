"""The evaluation script behind docs/results/regressions-eval.md runs end to end, on a tiny sample."""

import json
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "scripts" / "detector_eval.py"


def test_evaluation_writes_its_tables_with_intervals(tmp_path):
    out = tmp_path / "eval.md"
    p = subprocess.run([sys.executable, str(SCRIPT), "--histories", "1", "--online-histories", "1",
                        "--headline-histories", "2", "--oracle-histories", "40",
                        "--delay-histories", "80", "--out", str(out)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    text = out.read_text()
    headline, ceiling = text.split("## Headline")[1].split("## Overall")[0].split("### Exact commit against")
    rows = [r for r in headline.splitlines() if r.startswith("| ") and "%" in r and "---" not in r]
    assert len(rows) == 9  # three noise kinds x three methods
    # Each proportion carries its 95 % interval; each false-alarm rate, its Poisson interval.
    assert all(re.search(r"\d+\.\d % \(\d+\.\d-\d+\.\d\)", r) for r in rows)
    # Exact commit at the headline beside the best possible placing of each noise kind, and of all three.
    ceiling = ceiling.split("### Reported by")[0]
    ceiling_rows = [r for r in ceiling.splitlines() if r.startswith("| ")][2:]  # past the header
    assert [r.split(" | ")[0] for r in ceiling_rows] == ["| gaussian-outliers", "| bimodal", "| ar1", "| all three"]
    assert all(re.search(r"\| \d+\.\d % \(\d+\.\d-\d+\.\d\) \|$", r) for r in ceiling_rows)
    # ... and, for each method, beside the best possible placing of the very steps it found.
    assert all(len(re.findall(r"\| (?:\d+ %|—) / (?:\d+ %|—) ", r)) == 3 for r in ceiling_rows)
    # Reported by the 3rd commit after, beside the ideal nightly detector of each noise kind.
    ideal = text.split("### Reported by the 3rd commit after")[1].split("## Overall")[0]
    ideal_rows = [r for r in ideal.splitlines() if r.startswith("| ")][2:]
    assert [r.split(" | ")[0] for r in ideal_rows] == ["| gaussian-outliers", "| bimodal", "| ar1"]
    assert all(re.search(r"\| \d+\.\d % \(\d+\.\d-\d+\.\d\) \|$", r) for r in ideal_rows)
    assert re.search(r"\| mdperf \| .* \| \d+\.\d\d \(\d+\.\d\d-\d+\.\d\d\) \| \d+\.\d\d \(\d+\.\d\d-\d+\.\d\d\) \|", text)
    # Exact commit regrouped by step size in noise sigmas, beside the Gaussian ceiling.
    exact = text.split("## Exact commit by step size")[1].split("## Detection delay")[0]
    assert re.search(r"\| 3 \| .* \| 86 % \|", exact)
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["oracle_exact"]["bimodal"]["histories"] == 40 and data["oracle_delay"]["ar1"]["histories"] == 20
    mdperf = data["headline"]["ar1"]["mdperf"]
    assert data["headline_histories"] == 2 and mdperf["true_steps"] == 2
    assert 0 <= mdperf["best_exact"] <= mdperf["found"]
