"""The published site carries its own libraries: it renders in a real headless Chromium with the network off,
from a file:// URL and from a local server.  The libraries are the npm packages `mdperf site-assets` installs
(.ci/run runs it); without them these tests are skipped with that reason."""

import re
import shutil
import subprocess
import sys

import pytest

from mdperf import offline
from mdperf.errors import UserError
from test_site import CHROMIUM, needs_chromium, serve, site  # noqa: F401  (site: the fixture)

MODULES = offline.find_modules()
needs_assets = pytest.mark.skipif(MODULES is None, reason="site libraries not installed (run `mdperf site-assets`, "
                                                          "which needs npm; .ci/run does)")
# No name resolves and every connection goes to a closed port: the network is off for the browser.
NETWORK_OFF = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=127.0.0.1:9",
               "--proxy-bypass-list=127.0.0.1"]


def render(url, profile):
    p = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--no-first-run", "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                        *NETWORK_OFF, "--virtual-time-budget=8000", "--dump-dom", url],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


def asv_index_html():
    from pathlib import Path

    import asv

    return (Path(asv.__file__).parent / "www" / "index.html").read_text()


@needs_assets
def test_every_cdn_tag_of_asvs_page_points_into_the_site(tmp_path):
    text = offline.rewrite_index(asv_index_html(), MODULES, tmp_path / "vendor")
    assert not re.search(r'(?:src|href)="https?://[^"]+\.(?:js|css)"', text)
    for asset in offline.ASSETS:
        assert (tmp_path / "vendor" / asset.npm_path).is_file()
        assert f'"vendor/{asset.npm_path}"' in text
    assert "integrity=" not in text and "crossorigin=" not in text  # a file:// page refuses such scripts


@needs_assets
def test_a_library_that_is_not_the_build_asv_expects_is_refused(tmp_path):
    fake = tmp_path / "node_modules"
    shutil.copytree(MODULES, fake)
    (fake / "jquery" / "dist" / "jquery.min.js").write_text("/* not jQuery 3.3.1 */")
    with pytest.raises(UserError, match="does not match the hash asv expects"):
        offline.rewrite_index(asv_index_html(), fake, tmp_path / "vendor")


def test_without_the_libraries_publish_says_so_and_keeps_asvs_page(site, tmp_path):  # noqa: F811
    repo, commits, html = site
    p = subprocess.run([sys.executable, "-m", "mdperf.cli", "publish", "--repo", str(repo), "--assets",
                        str(tmp_path)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "the site will not render offline" in p.stdout and "loads its libraries from CDNs" in p.stdout \
        and "mdperf site-assets" in p.stdout
    if CHROMIUM:  # asv's own page, with the network off: its error page (what the offline site avoids)
        assert "continental origin" in render((html / "index.html").as_uri(), tmp_path / "p0")
    p = subprocess.run([sys.executable, "-m", "mdperf.cli", "publish", "--repo", str(repo), "--assets",
                        str(tmp_path / "missing")], capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.count("\n") == 1


@needs_chromium
@needs_assets
def test_the_site_renders_from_a_file_url_with_the_network_off(site, tmp_path):  # noqa: F811
    repo, commits, html = site
    assert (html / offline.VENDOR).is_dir() and (html / "index.json.js").is_file()
    front = render((html / "index.html").as_uri(), tmp_path / "p1")
    assert "continental origin" not in front  # asv's error page when its scripts did not load
    assert 'href="#md.Latency.track_latency_p50_ms"' in front  # the summary grid, built from index.json
    graph = render((html / "index.html").as_uri() + "#md.Latency.track_latency_p50_ms", tmp_path / "p2")
    assert 'class="flot-base"' in graph  # flot drew the benchmark's graph from its data file


@needs_chromium
@needs_assets
def test_the_site_renders_from_a_server_with_the_network_off(site, tmp_path):  # noqa: F811
    repo, commits, html = site
    server = serve(html)
    try:
        dom = render(f"http://127.0.0.1:{server.server_address[1]}/index.html#md.Latency.track_latency_p50_ms",
                     tmp_path / "p3")
    finally:
        server.shutdown()
    assert "continental origin" not in dom and 'class="flot-base"' in dom


@pytest.fixture
def cpu_site(tmp_path):
    """A CPU-only machine's site in a folder whose name has spaces (a user's "My Projects"), its graphs in folders
    named by the machine's CPU and OS (spaces again): the GPU metrics n/a in every case, the guard's own series
    beside the metrics."""
    return publish_cpu_site(tmp_path)


NOISY_AT = (3, 8)  # commits at which the guard marked the first calculator's case noisy


@pytest.fixture
def noisy_site(tmp_path):
    """The same site where the guard marked the torch-lj case noisy at two commits (the other case quiet)."""
    (tmp_path / "noisy").mkdir()
    return publish_cpu_site(tmp_path / "noisy", NOISY_AT)


def publish_cpu_site(tmp_path, noisy_at=()):
    import json

    import numpy as np

    from histories import make_repo, write_asv_results

    (tmp_path / "My Projects").mkdir()
    repo, commits = make_repo(tmp_path / "My Projects", 12)
    (repo / "asv.conf.json").write_text(json.dumps({
        "version": 1, "project": "demo", "project_url": "https://example.invalid/", "repo": ".",
        "branches": ["main"], "environment_type": "virtualenv", "results_dir": ".asv/results",
        "html_dir": ".asv/html"}))
    params = dict(params=[["'torch-lj'", "'ljtorch.calc:LJ[cutoff=7.0]'"], ["256"], ["'cpu'"]],
                  param_names=["calculator", "atoms", "device"])
    lat = 10 * np.exp(np.random.default_rng(1).normal(0, 0.01, 12))
    write_asv_results(repo / ".asv" / "results", "runner", commits, {
        "md.Latency.track_latency_p50_ms": dict(**params, unit="ms", values=[[float(x), 2 * float(x)] for x in lat]),
        "md.GpuMemory.track_gpu_peak_allocated_mib": dict(**params, unit="MiB", values=[[float("nan")] * 2] * 12),
        "md.Guard.track_noisy": dict(**params, unit="unit",
                                     values=[[1.0 if i in noisy_at else 0.0, 0.0] for i in range(12)])})
    for f in (repo / ".asv" / "results" / "runner").glob("*-*.json"):  # what asv records of a real machine
        data = json.loads(f.read_text())
        data["params"].update(cpu="AMD EPYC 7B13", os="Linux 6.18.44")  # spaces: in every graph's folder path
        f.write_text(json.dumps(data))
    p = subprocess.run([sys.executable, "-m", "mdperf.cli", "publish", "--repo", str(repo)], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    return repo / ".asv" / "html"


def test_a_cpu_only_site_hides_the_empty_gpu_graphs_and_sets_the_guard_apart(cpu_site):
    import json

    from mdperf import site as site_page

    benchmarks = list(json.loads((cpu_site / "index.json").read_text())["benchmarks"])
    assert benchmarks == ["md.Latency.track_latency_p50_ms", "md.Guard.track_noisy"]  # no GPU, the guard last
    guard = json.loads((cpu_site / "index.json").read_text())["benchmarks"]["md.Guard.track_noisy"]
    assert guard["pretty_name"] == site_page.GUARD_NAME + "track_noisy"
    page = (cpu_site / "mdperf.html").read_text()
    assert 'id="nav-li-mdperf"' in page and 'href="index.html#/summarylist"' in page and 'href="asv.css"' in page


@needs_chromium
@needs_assets
def test_graphs_render_from_disk_in_a_folder_with_spaces(cpu_site, tmp_path):
    assert " " in str(cpu_site)
    front = render((cpu_site / "index.html").as_uri(), tmp_path / "p4")
    assert 'href="#md.Latency.track_latency_p50_ms"' in front and "GpuMemory" not in front
    assert "machine guard, not a metric: track_noisy" in front
    # a graph as mdperf.html links it: the machine and a parameter whose value has a colon, brackets and an '='
    link = ("#md.Latency.track_latency_p50_ms?machine=runner&p-calculator=%27ljtorch.calc%3ALJ%5Bcutoff%3D7.0%5D%27"
            "&p-atoms=256")
    graph = render((cpu_site / "index.html").as_uri() + link, tmp_path / "p5")
    assert 'class="flot-base"' in graph
    changes = render((cpu_site / "mdperf.html").as_uri(), tmp_path / "p6")
    assert 'vendor/bootstrap/dist/css/bootstrap.min.css' in changes and "Benchmark grid" in changes


def test_the_guards_marks_are_listed_for_asvs_graphs_point_by_point(noisy_site):
    """Each latency point of the marked case at a marked commit, by its revision and exact value; none of the
    other case's, none of the guard's own series."""
    import json

    from mdperf import site_marks

    marks = json.loads((noisy_site / site_marks.MARKS_JSON).read_text())
    assert list(marks) == ["md.Latency.track_latency_p50_ms"]
    (path, points), = marks["md.Latency.track_latency_p50_ms"].items()
    graph = json.loads((noisy_site / path).read_text())
    assert len(graph) == 12  # a point per commit, oldest first
    marked_revs = {graph[i][0] for i in NOISY_AT}
    assert points == [[rev, vals[0]] for rev, vals in graph if rev in marked_revs]  # the first case only
    assert len(points) == 2
    html = (noisy_site / "index.html").read_text()
    assert html.index(site_marks.MARKS_JS) < html.index('src="asv.js"')


@needs_chromium
@needs_assets
def test_asvs_graph_rings_the_points_the_guard_marked(noisy_site, cpu_site, tmp_path):
    """In a real browser from disk, network off: the marked case's graph says it ringed its 2 points; the quiet
    site's graph rings none."""
    from mdperf import site_marks

    link = ("#md.Latency.track_latency_p50_ms?machine=runner&p-calculator=%27torch-lj%27&p-atoms=256")
    graph = render((noisy_site / "index.html").as_uri() + link, tmp_path / "p7")
    assert 'class="flot-base"' in graph
    assert f"2 point(s) ringed in orange: {site_marks.NOTE}" in graph
    quiet = render((cpu_site / "index.html").as_uri() + link, tmp_path / "p8")
    assert 'class="flot-base"' in quiet and "ringed in orange" not in quiet
