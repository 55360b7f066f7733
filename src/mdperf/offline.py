"""A published site that needs no network: asv's pages load jQuery, flot, bootstrap and friends from CDNs; here
they are served from the site itself, and the data asv fetches with XHR can also be read from a ``file://`` URL.

The libraries come from npm (``mdperf site-assets`` runs ``npm ci`` on the manifest shipped in
``mdperf/site_assets/``, into ``$MDPERF_SITE_ASSETS`` or ``~/.cache/mdperf/site-assets``); ``make_offline``
copies the files asv's ``index.html`` names into ``vendor/`` and points the page at them.  Where asv gives a
subresource hash and the npm file is the same build, the hash is checked here (a browser cannot check it on a
``file://`` page).  Each JSON file gets a ``.js`` twin that a ``<script>`` tag can load, and a small shim makes
asv's ``$.ajax`` JSON requests use them when the page is opened from disk.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import UserError
from .result import atomic_write_text

ENV_VAR = "MDPERF_SITE_ASSETS"
VENDOR = "vendor"
SHIM = "mdperf-offline.js"
MARK = 'data-mdperf-offline="1"'


@dataclass(frozen=True)
class Asset:
    url_end: str  # how the CDN URL in asv's index.html ends
    npm_path: str  # the file in node_modules
    same_build: bool  # the npm file is byte-identical to the CDN's: asv's integrity hash must match


# The CDN files of asv 0.6's index.html.  cdnjs serves minified flot and stupidtable 1.0.1, which npm does not
# carry: npm's unminified flot 0.8.3 and stupid-table-plugin 1.1.3 (the same $.fn.stupidtable) stand in.
ASSETS = (
    Asset("/jquery-3.3.1.min.js", "jquery/dist/jquery.min.js", True),
    Asset("/flot/0.8.3/jquery.flot.min.js", "flot/jquery.flot.js", False),
    Asset("/flot/0.8.3/jquery.flot.time.min.js", "flot/jquery.flot.time.js", False),
    Asset("/flot/0.8.3/jquery.flot.selection.min.js", "flot/jquery.flot.selection.js", False),
    Asset("/flot/0.8.3/jquery.flot.categories.min.js", "flot/jquery.flot.categories.js", False),
    Asset("/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js", "flot-orderbars/js/jquery.flot.orderBars.js", True),
    Asset("/stupidtable/1.0.1/stupidtable.min.js", "stupid-table-plugin/stupidtable.min.js", False),
    Asset("/blueimp-md5/2.19.0/js/md5.min.js", "blueimp-md5/js/md5.min.js", True),
    Asset("/bootstrap@3.1.1/dist/js/bootstrap.min.js", "bootstrap/dist/js/bootstrap.min.js", True),
    Asset("/bootstrap@3.1.1/dist/css/bootstrap.min.css", "bootstrap/dist/css/bootstrap.min.css", True),
)
EXTRA_DIRS = ("bootstrap/dist/fonts",)  # bootstrap.min.css refers to ../fonts/

_TAG = re.compile(r'<(script|link)\b[^>]*?\b(?:src|href)="(https?://[^"]+)"[^>]*>', re.S)

# Served when the page is opened from disk: a JSON request loads the file's .js twin with a <script> tag.
SHIM_JS = """(function () {
  if (window.location.protocol !== "file:" || !window.jQuery) { return; }
  var $ = window.jQuery, pending = {}, realAjax = $.ajax;
  // asv asks for "cpu-AMD%20EPYC/..." where the data file says "cpu-AMD EPYC/...": one key for both
  var key = function (p) { try { return decodeURIComponent(p); } catch (e) { return p; } };
  window.mdperfOfflineData = function (path, data) {
    path = key(path);
    var waiting = pending[path] || [];
    delete pending[path];
    waiting.forEach(function (d) { d.resolve(data); });
  };
  $.ajax = function (options) {
    var url = (typeof options === "string" ? options : options.url) || "";
    var path = key(url.split("?")[0]);
    var dataType = typeof options === "object" ? options.dataType : undefined;
    var d = $.Deferred();
    if (dataType === "json" || /\\.json$/.test(path)) {
      if (!pending[path]) {
        pending[path] = [];
        var s = document.createElement("script");
        s.src = url.split("?")[0] + ".js";
        s.onerror = function () {
          var waiting = pending[path] || [];
          delete pending[path];
          waiting.forEach(function (w) { w.reject(null, "error", "not found: " + path); });
        };
        document.head.appendChild(s);
      }
      pending[path].push(d);
      return d.promise();
    }
    if (dataType === "text") { d.resolve(""); return d.promise(); }  // asv's "is the server alive" probe
    return realAjax.apply(this, arguments);
  };
})();
"""


def default_dir() -> Path:
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path.home() / ".cache" / "mdperf" / "site-assets"


def manifest_dir() -> Path:
    return Path(str(resources.files("mdperf") / "site_assets"))


def install(dest: Path | None = None) -> Path:
    """``npm ci`` of the shipped manifest into ``dest``; the node_modules folder."""
    dest = dest or default_dir()
    npm = shutil.which("npm")
    if npm is None:
        raise UserError("npm is not installed (apt-get install npm, or Node.js from nodejs.org); "
                        "it fetches the site's libraries once")
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(manifest_dir() / name, dest / name)
    from . import children

    p = children.capture([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", str(dest)])
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["?"])[-1]
        raise UserError(f"npm ci failed in {dest}: {last}")
    return dest / "node_modules"


def find_modules(assets: Path | None = None) -> Path | None:
    """The node_modules folder holding every asset, or None."""
    base = assets or default_dir()
    for cand in (base / "node_modules", base):
        if all((cand / a.npm_path).is_file() for a in ASSETS):
            return cand
    return None


def _sri_ok(data: bytes, integrity: str) -> bool:
    algo, _, want = integrity.partition("-")
    if algo not in ("sha256", "sha384", "sha512"):
        return False
    return base64.b64encode(hashlib.new(algo, data).digest()).decode() == want


def rewrite_index(text: str, modules: Path, vendor: Path) -> str:
    """asv's index.html with every CDN tag pointing at a copy under ``vendor/``; the copies are made."""
    def local(m: re.Match) -> str:
        tag, url = m.group(0), m.group(2)
        asset = next((a for a in ASSETS if url.endswith(a.url_end)), None)
        if asset is None:
            raise UserError(f"asv's index.html loads {url}, which mdperf has no local copy for "
                            "(an asv version mdperf does not know)")
        src = modules / asset.npm_path
        data = src.read_bytes()
        sri = re.search(r'integrity="([^"]+)"', tag)
        if asset.same_build and sri and not _sri_ok(data, sri.group(1)):
            raise UserError(f"{src} does not match the hash asv expects for {url}; reinstall with mdperf site-assets")
        dest = vendor / asset.npm_path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        rel = f"{VENDOR}/{asset.npm_path}"
        # Attributes for cross-origin fetching make a file:// page refuse the script: dropped.
        tag = re.sub(r'\s(?:integrity|crossorigin|referrerpolicy)="[^"]*"', "", tag)
        return tag.replace(url, rel)

    return _TAG.sub(local, text)


NOT_OFFLINE = "the site will not render offline"  # how a note of make_offline's failure begins


def make_offline(html_dir: Path, assets: Path | None = None) -> tuple[bool, str]:
    """(True, what) when the site now holds every library; (False, why not) leaves asv's CDN page as it is.
    Without ``assets`` and with npm on the machine, the libraries are installed first (once, into the default
    folder), as `mdperf site-assets` would."""
    modules = find_modules(assets)
    installed = ""
    if modules is None and assets is None and shutil.which("npm"):
        try:
            install()
            modules = find_modules()
            installed = f"installed the site's libraries with npm into {default_dir()}; "
        except (UserError, OSError) as exc:
            return False, (f"{NOT_OFFLINE} (opened from disk or without network its graphs stay empty): "
                           f"installing its libraries with npm failed: {exc}")
    if modules is None:
        return False, (f"{NOT_OFFLINE} (opened from disk or without network its graphs stay empty): it loads "
                       f"its libraries from CDNs, none installed at {assets or default_dir()} (run `mdperf "
                       "site-assets` once; it needs npm)")
    index = html_dir / "index.html"
    text = index.read_text()
    vendor = html_dir / VENDOR
    if MARK not in text:
        shutil.rmtree(vendor, ignore_errors=True)
        for d in EXTRA_DIRS:
            shutil.copytree(modules / d, vendor / d)
        text = rewrite_index(text, modules, vendor)
        shim = f'<script src="{SHIM}" {MARK}></script>\n'
        text = text.replace('<script language="javascript" type="text/javascript"\n            src="asv.js">',
                            shim + '    <script language="javascript" type="text/javascript"\n            src="asv.js">', 1)
        if MARK not in text:
            raise UserError("asv's index.html has no asv.js script tag to put the offline shim before")
        atomic_write_text(html_dir / SHIM, SHIM_JS)
        atomic_write_text(index, text)
    page = html_dir / "mdperf.html"  # mdperf's changes page wears asv's stylesheet: from the site too
    if page.exists() and "https://" in (text := page.read_text()):
        atomic_write_text(page, rewrite_index(text, modules, vendor))
    n = 0
    for f in html_dir.rglob("*.json"):
        payload = f.read_text()
        json.loads(payload)  # asv wrote it; a broken file is asv's failure, not one to hide in a script
        rel = f.relative_to(html_dir).as_posix()
        atomic_write_text(f.with_name(f.name + ".js"), f"mdperfOfflineData({json.dumps(rel)}, {payload});\n")
        n += 1
    return True, f"{installed}{len(ASSETS)} libraries inside the site; {n} data files readable from file://"
