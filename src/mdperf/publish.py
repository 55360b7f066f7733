"""The published site: asv's own pages from the readable results, then mdperf's changes page and the site's
libraries copied in, so it works offline (used by `mdperf track`, `publish` and `bisect`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from . import asvresults, children
from .asvconf import AsvSetup
from .errors import UserError
from .result import atomic_write_text


def publish(setup: AsvSetup, env: dict[str, str] | None = None, logs: Path | None = None,
            assets: Path | None = None) -> tuple[Path | None, str, str]:
    """asv publish into html_dir, then mdperf's page and the site's libraries copied in (offline):
    (index.html, "", what the offline step did) or (None, reason, "")."""
    logs = logs or setup.state_dir / "logs"
    log = logs / "asv-publish.log"
    view, _ = _publish_view(setup)  # what it leaves out, the report lists as problems
    rc = children.run_logged([sys.executable, "-m", "asv", "publish", "--config", str(view)], log, env or dict(os.environ),
                     setup.repo)
    index = setup.html_dir / "index.html"
    if rc != 0 or not index.exists():
        return None, f"asv publish failed (exit {rc}); log: {log}", ""
    from . import offline, site
    from .regressions import analyse_results, config, record

    try:
        cfg = config.load(None, setup.repo)
        report = analyse_results(setup.results_dir, setup.repo, cfg, record=setup.state_dir / record.FILE_NAME,
                                 update_record=False)  # the alert is `mdperf regressions`'s to make
        from . import git

        order = list(reversed(git.first_parent_list(setup.repo, "HEAD")))
        site.write(setup.html_dir, report, setup.results_dir, order)
    except Exception as exc:  # the asv site stands without mdperf's page; say why it is missing
        return index, f"mdperf changes page not written: {type(exc).__name__}: {exc}", ""
    try:
        _, offline_note = offline.make_offline(setup.html_dir, assets)
    except (UserError, OSError, ValueError) as exc:
        return index, f"site libraries not copied in: {exc}", ""
    return index, "", offline_note


def _publish_view(setup: AsvSetup) -> tuple[Path, list[str]]:
    """An asv configuration like the repository's whose results folder holds only the files mdperf can read
    (results are untrusted: pulled from other runners), every path absolute; the files left out."""
    from asv import util

    view = setup.state_dir / "publish-view"
    left_out = asvresults.readable_view(setup.results_dir, view / "results")
    conf = util.load_json(str(setup.config_path), api_version=1, js_comments=True)
    here = setup.config_path.resolve().parent
    conf.update(version=1, repo=str(setup.repo.resolve()), results_dir=str((view / "results").resolve()),
                html_dir=str(setup.html_dir.resolve()), env_dir=str(setup.env_dir.resolve()),
                benchmark_dir=str((here / conf.get("benchmark_dir", "benchmarks")).resolve()))
    atomic_write_text(view / "asv.conf.json", json.dumps(conf, indent=1))
    return view / "asv.conf.json", left_out
