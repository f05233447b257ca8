"""`make docs`: the offline documentation site builds from the notebooks without executing them, renders in headless
Chromium with the network cut off, typesets the DMW page's equations with the bundled MathJax, and loads nothing remote."""
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p.stem for p in (ROOT / "nbs").glob("*.ipynb"))
EXPERIMENTS = sorted(p.stem for p in (ROOT / "results" / "notebooks").glob("e*.ipynb"))
DMW = "nbs/08_dmw.html"


def _chromium():
    for c in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if c and Path(c).exists():
            return c
    return None


class _Tags(HTMLParser):
    "Every start tag with its attributes, in document order."
    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _loaded_urls(html):
    "The URLs a page makes the browser load: scripts, stylesheets (and preloads, icons), images, frames, media."
    urls = []
    for tag, a in _Tags(html).tags:
        if tag == "script" and a.get("src"):
            urls.append(("script", a["src"]))
        elif tag == "link" and a.get("href") and {"stylesheet", "preload", "icon", "modulepreload"} & set((a.get("rel") or "").split()):
            urls.append(("link", a["href"]))
        elif tag in ("img", "iframe", "source", "video", "audio", "embed") and a.get("src"):
            urls.append((tag, a["src"]))
    return urls


def _remote(url):
    return urlsplit(url).scheme in ("http", "https") or url.startswith("//")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    "The site built as `make docs` builds it (same sphinx-build command), into a temp folder."
    tmp = tmp_path_factory.mktemp("docs")
    (tmp / "src").mkdir()
    p = subprocess.run([sys.executable, "-m", "sphinx", "-q", "-b", "html", "-c", str(ROOT / "docs"), str(tmp / "src"),
                        str(tmp / "html")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ERROR" not in p.stderr, p.stderr
    assert not (tmp / "jupyter_execute").exists()           # myst-nb's side folder is kept inside the build
    return tmp / "html"


@pytest.fixture(scope="module")
def browser(site, tmp_path_factory):
    "`browser(page, screenshot=None)`: the page's DOM after its scripts ran (or a PNG of it), with no network at all."
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium here (/usr/bin/chromium; apt-get install chromium) to render the docs with")
    profile = tmp_path_factory.mktemp("chromium-profile")
    doms = {}

    def run(page, screenshot=None):
        if not screenshot and page in doms:
            return doms[page]
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,1600",
               "--virtual-time-budget=10000", f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND",
               "--allow-file-access-from-files"]
        cmd += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
        p = subprocess.run(cmd + [(site / page).as_uri()], capture_output=True, text=True, timeout=120)
        if screenshot:
            assert Path(screenshot).exists(), p.stderr[-2000:]
            return Image.open(screenshot).convert("RGB")
        assert "</html>" in p.stdout, p.stderr[-2000:]
        doms[page] = p.stdout
        return p.stdout
    return run


def test_every_notebook_has_a_page_in_the_navigation(site):
    "One page per library notebook (file-name order, under Method), per executed experiment notebook, the README and guide."
    assert NBS and EXPERIMENTS
    for page in ["index.html", "README.html"] + [f"nbs/{n}.html" for n in NBS] + [f"results/notebooks/{e}.html" for e in EXPERIMENTS]:
        assert (site / page).exists(), page
    sidebar = (site / "index.html").read_text().split('class="sidebar-tree"', 1)[1].split("<article", 1)[0]
    sections = {part.split("<", 1)[0]: re.findall(r'<a class="reference internal" href="([^"#]+)"', part)
                for part in sidebar.split('<span class="caption-text">')[1:]}
    assert sections["Introduction"] == ["README.html", "docs/guide.html"]
    assert sections["Method"] == [f"nbs/{n}.html" for n in NBS]            # file-name order
    assert sections["Experiments (executed at demo scale)"] == [f"results/notebooks/{e}.html" for e in EXPERIMENTS]
    report = (ROOT / "results" / "REPORT.md").exists()                    # being written: there or not, the site builds
    assert (site / "results" / "REPORT.html").exists() == report
    assert sections.get("Report") == (["results/REPORT.html"] if report else None)


def test_notebooks_are_shown_not_executed(site):
    "The DMW page shows the notebook's code without nbdev's `#|` directives; experiment pages show their stored outputs."
    dmw = (site / DMW).read_text()
    assert "<title>08 · dmw" in dmw and "class_min_distances" in dmw
    assert "#| export" not in dmw and "#| default_exp" not in dmw
    e00 = (site / f"results/notebooks/{EXPERIMENTS[0]}.html").read_text()
    assert "cell_output" in e00                                           # outputs stored by papermill, not rerun


def test_nothing_is_loaded_from_the_network(site):
    "No page's scripts, stylesheets or images come from http(s); MathJax is the copy shipped in _static."
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= len(NBS) + len(EXPERIMENTS) + 2
    for page in pages:
        html = page.read_text()
        remote = [u for u in _loaded_urls(html) if _remote(u[1])]
        assert not remote, f"{page.relative_to(site)} loads {remote}"
        assert not re.search(r"""@import\s+(url\()?['"]?(https?:)?//""", html), page
    scripts = [u for t, u in _loaded_urls((site / DMW).read_text()) if t == "script"]
    mathjax = [u for u in scripts if "MathJax.js" in u]
    assert mathjax == ["../_static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"]
    assert (site / "_static/mathjax/MathJax.js").exists() and (site / "_static/mathjax/config/TeX-AMS-MML_HTMLorMML-full.js").exists()
    for css in site.glob("_static/**/*.css"):
        assert not re.search(r"""(@import|url\()\s*['"]?(https?:)?//""", css.read_text(errors="ignore")), css


@pytest.mark.parametrize("page", ["index.html", DMW])
def test_pages_render_and_their_images_exist(site, browser, page, tmp_path):
    "A screenshot of the page is not blank; every <img> of its rendered DOM is a file of the build; nothing remote."
    im = np.asarray(browser(page, screenshot=tmp_path / "page.png"))
    assert im.shape == (1600, 1280, 3)
    rgb = im.astype(np.int32)
    colours = len(np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]))
    ink = (im.min(axis=2) < 200).mean()                                  # share of clearly non-white pixels
    assert colours > 50 and ink > 0.02, (colours, ink)
    dom = browser(page)
    for tag, url in _loaded_urls(dom):
        assert not _remote(url), (tag, url)
        if tag == "img" and not url.startswith("data:"):
            target = (site / page).parent / unquote(urlsplit(url).path)
            assert target.resolve().is_file(), url
    assert "memeclust" in dom


def test_dmw_equations_are_typeset_by_mathjax(site, browser):
    "Every TeX span of the DMW page (inline and display, paper eq. 1-5) becomes MathJax output, none an error."
    html = (site / DMW).read_text()
    sources = re.findall(r'class="math notranslate nohighlight"', html)
    display = re.findall(r'<div class="math notranslate nohighlight">', html)
    assert len(display) >= 1, "no $$...$$ equation on the DMW page"
    dom = browser(DMW)
    frames = re.findall(r'<span class="MathJax" id="MathJax-Element-\d+-Frame"', dom)     # MathJax 2 HTML-CSS output
    assert len(frames) == len(sources)                                     # every one of them typeset
    assert len(re.findall(r'class="MathJax_Display"', dom)) == len(display)
    assert len(re.findall(r'<script type="math/tex[^"]*" id="MathJax-Element-\d+"', dom)) == len(sources)
    assert not re.search(r'class="(MathJax_Error|merror|noError)"', dom)
    assert "Math Processing Error" not in dom
