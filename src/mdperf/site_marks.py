"""The guard's marks on asv's own graphs: a point measured while the guard found the machine busy is drawn ringed.

asv's graph page has no notion of a marked point, so the published site gets two files: ``mdperf-marks.json``
(per benchmark and graph file, the ``[revision, value]`` pairs whose case the guard marked noisy, read from the
site's own graph files) and ``mdperf-marks.js``, a flot plugin loaded before asv's scripts that rings those
points on the main graph and says how many it ringed under it.  A point is matched by its revision and its
exact value (both from the same graph file), so nothing of asv's page logic is repeated here.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

from .regressions.analysis import DETERMINISTIC
from .regressions.coverage import GUARD
from .result import atomic_write_text

MARKS_JSON = "mdperf-marks.json"
MARKS_JS = "mdperf-marks.js"
TAG_MARK = "data-mdperf-marks"
NOISY = GUARD + "track_noisy"
NOTE = "measured while mdperf's guard found the machine busy"  # the graph's note, after the count

MARKS_SCRIPT = """(function () {
  var $ = window.jQuery;
  if (!$ || !$.plot) { return; }
  var marks = null, main = null;
  function benchmark() {
    var h = window.location.hash.slice(1).split("?")[0];
    try { return decodeURIComponent(h); } catch (e) { return h; }
  }
  function keys() {
    var out = {}, b = marks && marks[benchmark()];
    var dates = ($.asv && $.asv.main_json && $.asv.main_json.revision_to_date) || {};
    if (!b) { return out; }
    Object.keys(b).forEach(function (path) {
      b[path].forEach(function (p) {
        out[p[0] + "|" + p[1]] = true;
        if (dates[p[0]] !== undefined) { out[dates[p[0]] + "|" + p[1]] = true; }
      });
    });
    return out;
  }
  function draw(plot, ctx) {
    if (plot.getPlaceholder().attr("id") !== "main-graph") { return; }
    main = plot;
    var k = keys(), off = plot.getPlotOffset(), n = 0;
    plot.getData().forEach(function (s) {
      (s.data || []).forEach(function (p) {
        if (!p || !k[p[0] + "|" + p[1]]) { return; }
        ctx.beginPath();
        ctx.arc(off.left + s.xaxis.p2c(p[0]), off.top + s.yaxis.p2c(p[1]), 6, 0, 2 * Math.PI);
        ctx.lineWidth = 2;
        ctx.strokeStyle = "#e67e00";
        ctx.stroke();
        n += 1;
      });
    });
    var note = $("#mdperf-marks-note");
    if (!note.length) {
      note = $('<p id="mdperf-marks-note" style="color:#b35c00;margin:4px 0"></p>');
      note.insertAfter(plot.getPlaceholder());
    }
    note.text(n ? n + " point(s) ringed in orange: " + NOTE + " (weaker evidence: mdperf judges them apart)" : "");
  }
  $.plot.plugins.push({ name: "mdperf-marks", version: "1", options: {},
                        init: function (plot) { plot.hooks.draw.push(draw); } });
  $(function () {
    $.ajax({ url: "mdperf-marks.json", dataType: "json", cache: false }).done(function (data) {
      marks = data;
      if (main) { main.draw(); }
    });
  });
})();
""".replace("NOTE", json.dumps(NOTE))


def _combos(bench: dict[str, Any] | None) -> list[dict[str, str]]:
    """A benchmark's parameter combinations in asv's order (the order of its graph files' value lists)."""
    if not bench:
        return [{}]
    params, names = bench.get("params") or [], bench.get("param_names") or []
    if len(names) != len(params):
        names = [f"param{i + 1}" for i in range(len(params))]
    return [dict(zip(names, combo)) for combo in itertools.product(*params)] if params else [{}]


def _same_case(a: dict[str, str], b: dict[str, str]) -> bool:
    """The guard's case and a metric's: every parameter the two share has the same value."""
    return all(a[k] == b[k] for k in a.keys() & b.keys())


def _points(path: Path) -> list[tuple[Any, list[Any]]]:
    """A graph file's (revision, values per combination); a file that is not asv's shape reads as none."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(data, list):
        return []
    return [(p[0], p[1] if isinstance(p[1], list) else [p[1]]) for p in data
            if isinstance(p, list) and len(p) == 2]


def _is_value(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def noisy_marks(html_dir: Path) -> dict[str, dict[str, list[list[Any]]]]:
    """benchmark -> graph file (relative to the site) -> the ``[revision, value]`` points the guard marked."""
    try:
        benches = json.loads((html_dir / "index.json").read_text()).get("benchmarks", {})
    except (OSError, ValueError):
        return {}
    out: dict[str, dict[str, list[list[Any]]]] = {}
    graphs = html_dir / "graphs"
    for guard in sorted(graphs.rglob("*" + NOISY + ".json")):
        if guard.relative_to(graphs).parts[0] == "summary":  # the summary page's means, not a case's points
            continue
        marked: dict[Any, list[dict[str, str]]] = {}
        for rev, values in _points(guard):
            for case, v in zip(_combos(benches.get(guard.name[:-5])), values):
                if _is_value(v) and v >= 1:
                    marked.setdefault(rev, []).append(case)
        if not marked:
            continue
        for f in sorted(guard.parent.glob("*.json")):
            name = f.name[:-5]
            if GUARD in name or name not in benches or any(k in name for k in DETERMINISTIC):
                continue
            combos = _combos(benches[name])
            pts = [[rev, v] for rev, values in _points(f) if rev in marked
                   for case, v in zip(combos, values)
                   if _is_value(v) and any(_same_case(case, g) for g in marked[rev])]
            if pts:
                out.setdefault(name, {})[f.relative_to(html_dir).as_posix()] = pts
    return out


def write(html_dir: Path) -> int:
    """Write the marks and their script into the site and load the script from asv's page (once); the number of
    points marked."""
    marks = noisy_marks(html_dir)
    atomic_write_text(html_dir / MARKS_JSON, json.dumps(marks))
    atomic_write_text(html_dir / MARKS_JS, MARKS_SCRIPT)
    index = html_dir / "index.html"
    text = index.read_text()
    if TAG_MARK not in text:
        anchor = '<script language="javascript" type="text/javascript"\n            src="asv.js">'
        tag = f'<script src="{MARKS_JS}" {TAG_MARK}></script>\n    '
        if anchor in text:  # after flot, before asv's own scripts
            atomic_write_text(index, text.replace(anchor, tag + anchor, 1))
    return sum(len(p) for by_file in marks.values() for p in by_file.values())
