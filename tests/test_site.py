"""The mdperf changes page on a real `asv publish` site, loaded in a real headless Chromium."""

import functools
import http.server
import json
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

from histories import make_repo, write_asv_results as write_results

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium)")


@pytest.fixture
def site(tmp_path):
    repo, commits = make_repo(tmp_path, 30)
    (repo / "asv.conf.json").write_text(json.dumps({
        "version": 1, "project": "demo", "project_url": "https://example.invalid/", "repo": ".",
        "branches": ["main"], "environment_type": "virtualenv", "results_dir": ".asv/results",
        "html_dir": ".asv/html"}))
    rng = np.random.default_rng(3)
    lat = 10 * np.exp(rng.normal(0, 0.01, 30))
    lat[20:] *= 1.25  # the injected regression, at commit 20
    write_results(repo / ".asv" / "results", "runner", commits, {
        "md.Latency.track_latency_p50_ms": dict(params=[["'torch-lj'"], ["256"]], param_names=["calculator", "atoms"],
                                                unit="ms", values=[[float(x)] for x in lat])})
    p = subprocess.run([sys.executable, "-m", "mdperf.cli", "publish", "--repo", str(repo)], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    return repo, commits, repo / ".asv" / "html"


def test_page_and_json_written_and_linked(site):
    repo, commits, html = site
    flags = json.loads((html / "mdperf-flags.json").read_text())["flags"]
    assert [(f["commit"], f["kind"], f["state"]) for f in flags] == [(commits[20], "regression", "confirmed")]
    assert 'href="mdperf.html"' in (html / "index.html").read_text()
    page = (html / "mdperf.html").read_text()
    assert f'id="commit-{commits[20]}"' in page and "commit 20" in page  # the commit's subject from git


def serve(directory):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def chromium_dom(url, profile_dir):
    p = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--no-first-run", "--disable-component-update", "--disable-sync", f"--user-data-dir={profile_dir}",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom", url],
        capture_output=True, text=True, timeout=120)
    console = [line for line in p.stderr.splitlines() if ":CONSOLE" in line]
    return p.returncode, p.stdout, console


@needs_chromium
def test_page_in_chromium_shows_the_regression_at_its_commit(site, tmp_path):
    repo, commits, html = site
    server = serve(html)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        rc, dom, console = chromium_dom(f"{base}/mdperf.html", tmp_path / "profile1")
        assert rc == 0
        assert console == [], console
        section = dom.split(f'id="commit-{commits[20]}"', 1)
        assert len(section) == 2, "no section for the regression's commit"
        row = section[1].split("</table>", 1)[0]
        assert 'class="regression-confirmed"' in row and "md.Latency.track_latency_p50_ms" in row
        assert "+2" in row  # about +25 %
        assert 'href="index.html#md.Latency.track_latency_p50_ms?machine=runner' in row
        # asv's front page loads jQuery and flot from a CDN, which this sandbox cannot reach (its scripts then
        # show asv's error page), so the link is checked in what the server sends.
        import urllib.request

        front = urllib.request.urlopen(f"{base}/index.html", timeout=10).read().decode()
        assert '<li id="nav-li-mdperf"><a href="mdperf.html">mdperf changes</a></li>' in front
    finally:
        server.shutdown()
