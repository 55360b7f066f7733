"""Figures (the plot extra): mdperf plot, --plot on run and compare, mdperf scale, and compare's agreement with
its reference — real measurements, real matplotlib files."""

import json
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib", reason="the plot extra is not installed (pip install 'mdperf[plot]')")

CASE = ["--system", "ar", "--atoms", "32", "--steps", "40", "--warmup", "2"]


def mdperf(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mdperf.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def is_png(path):
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_plot_draws_the_four_panels_as_png_and_svg(tmp_path):
    p = mdperf("run", "--calc", "torch-lj", *CASE, "--plot", str(tmp_path / "figs"), "--json", str(tmp_path / "r.json"))
    assert p.returncode == 0, p.stderr
    png, svg = tmp_path / "figs" / "torch-lj-ar-32-cpu.png", tmp_path / "figs" / "torch-lj-ar-32-cpu.svg"
    assert is_png(png) and "<svg" in svg.read_text()[:500]
    svg_text = svg.read_text()
    for panel in ("latency distribution", "latency against step", "energy conservation", "memory against step"):
        assert panel in svg_text
    assert "drift" in svg_text and "p99" in svg_text


def test_plot_command_and_compare_overlay(tmp_path):
    p = mdperf("compare", "ase-lj", "torch-lj", *CASE, "--json", str(tmp_path / "c.json"))
    assert p.returncode == 0, p.stderr
    p = mdperf("plot", str(tmp_path / "c.json"), "--out", str(tmp_path / "out"))
    assert p.returncode == 0, p.stderr
    names = sorted(f.name for f in (tmp_path / "out").iterdir())
    assert names == ["ase-lj-ar-32-cpu.png", "ase-lj-ar-32-cpu.svg", "compare-latency.png", "compare-latency.svg",
                     "torch-lj-ar-32-cpu.png", "torch-lj-ar-32-cpu.svg"]
    (tmp_path / "bad.json").write_text('{"not": "a result"}')
    p = mdperf("plot", str(tmp_path / "bad.json"))
    assert p.returncode == 2 and "is not an mdperf result" in p.stderr


def test_scale_fits_the_slope_and_writes_figure_table_and_json(tmp_path):
    p = mdperf("scale", "--calc", "ase-lj", "--system", "ar", "--atoms", "32", "256", "--steps", "20", "--warmup", "1",
               "--out", str(tmp_path / "s"))
    assert p.returncode == 0, p.stderr
    data = json.loads((tmp_path / "s" / "scaling.json").read_text())
    assert [r["atoms"] for r in data["rows"]] == [32, 256]
    assert data["slopes"]["ase-lj"] is not None and "time ~ atoms^" in p.stdout
    assert is_png(tmp_path / "s" / "scaling.png") and (tmp_path / "s" / "scaling.svg").exists()
    assert all(r["latency_q25_ms"] <= r["latency_median_ms"] <= r["latency_q75_ms"] for r in data["rows"])


def test_compare_agreement_against_the_reference(tmp_path):
    p = mdperf("compare", "ase-lj", "torch-lj", "torch-morse", *CASE, "--agreement", "--json", str(tmp_path / "c.json"))
    assert p.returncode == 0, p.stderr
    rows = {r["case"]["calculator"]: r for r in json.loads((tmp_path / "c.json").read_text())}
    same = rows["torch-lj"]["agreement_with_ase-lj"]  # the same potential in torch: agrees to rounding
    other = rows["torch-morse"]["agreement_with_ase-lj"]  # another potential: it does not
    assert same["force_max_mev_per_a"] < 1e-6 and same["energy_mae_mev_per_atom"] < 1e-6
    assert other["force_mae_mev_per_a"] > 0.1
    assert "F MAE meV/Å" in p.stdout


def test_the_overlay_says_each_calculators_agreement(tmp_path):
    p = mdperf("compare", "ase-lj", "torch-morse", *CASE, "--agreement", "--plot", str(tmp_path), "--json",
               str(tmp_path / "c.json"))
    assert p.returncode == 0, p.stderr
    assert "force MAE" in (tmp_path / "compare-latency.svg").read_text()
    # the parity figure: torch-morse's forces against ase-lj's on the same frames, its errors written on it
    assert is_png(tmp_path / "parity-torch-morse.png") and "MAE" in (tmp_path / "parity-torch-morse.svg").read_text()
    assert "parity-torch-morse.png" in p.stdout
    assert "parity" not in (tmp_path / "c.json").read_text()  # the rows carry the errors, not the pairs
