"""Build the sample website that `litft demo` crawls: `python tools/demo_site/build.py [OUT_DIR] [--version 2]`.

The site ships as static files in `litft/demo/site/` (committed, packaged); this script is their source.
Facts live in `data.py`, page bodies in `pages.py`; this file holds the boilerplate that every page
shares (cookie banner, header with the main navigation, breadcrumb, footer), robots.txt, sitemap.xml
and the stylesheet. `tests/demo/test_site.py` checks that the committed files equal a fresh build.

Version 2 (`version2.py`: a few deadlines and fees changed, a course added, a news page removed) is what
`litft demo --refresh` re-crawls. It ships as the files that differ from version 1 (`litft/demo/site_v2/`,
changed pages with a later sitemap lastmod) and `removed.txt`; the demo server lays them over version 1.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import data as d  # noqa: E402
import pages  # noqa: E402
import version2  # noqa: E402

DEFAULT_OUT = HERE.parent.parent / "litft" / "demo" / "site"
DEFAULT_OUT_V2 = HERE.parent.parent / "litft" / "demo" / "site_v2"
REMOVED_FILE = "removed.txt"
PLACEHOLDER = "{{BASE_URL}}"
PRIVATE_PREFIX = "/private/"
LASTMOD = "2025-06-01"


@dataclass(frozen=True)
class Page:
    path: str  # site path of the file, e.g. "programs/software-engineering.html" ("index.html" is "/")
    title: str
    description: str
    crumbs: tuple[tuple[str, str], ...]  # (href, label) of the ancestors, home excluded
    body: str
    sidebar: str = ""

    @property
    def url_path(self) -> str:
        return "/" if self.path == "index.html" else "/" + self.path


NAV = [
    ("/about/index.html", "About"),
    ("/programs/index.html", "Programs"),
    ("/courses/index.html", "Courses"),
    ("/admissions/index.html", "Admissions"),
    ("/faculty/index.html", "Faculty"),
    ("/research/index.html", "Research"),
    ("/student-life.html", "Student Life"),
    ("/campus/index.html", "Campus"),
    ("/news/index.html", "News"),
    ("/contact.html", "Contact"),
]

COOKIE_BANNER = """<div class="cookie-banner" id="cookie-banner" role="dialog" aria-label="Cookie consent">
  <p>We use cookies to remember your preferences, keep you signed in and understand how visitors use our website.
  Essential cookies are always on. You can accept or reject the optional analytics cookies at any time.
  <a href="/legal/privacy.html#cookies">Read our cookie policy</a>.</p>
  <button type="button" class="cookie-accept">Accept all cookies</button>
  <button type="button" class="cookie-reject">Only essential cookies</button>
</div>"""

NAV_ITEMS = "\n".join(f'      <li><a href="{href}">{label}</a></li>' for href, label in NAV)

HEADER = f"""<header class="site-header">
  <div class="utility-bar">
    <ul>
      <li><a href="/admissions/index.html">Apply</a></li>
      <li><a href="/admissions/tuition-and-fees.html">Tuition</a></li>
      <li><a href="/library.html">Library</a></li>
      <li><a href="/contact.html">Contact us</a></li>
      <li><a href="https://portal.northbridge.example/login">Student portal</a></li>
    </ul>
  </div>
  <a class="logo" href="/"><span class="logo-mark">NIT</span> <span class="logo-text">Northbridge Institute of Technology</span></a>
  <nav class="main-nav" aria-label="Main navigation">
    <ul>
{NAV_ITEMS}
    </ul>
  </nav>
</header>"""

FOOTER = f"""<footer class="site-footer">
  <div class="footer-columns">
    <div class="footer-address">
      <p class="footer-name">{d.SCHOOL}</p>
      <address>{d.ADDRESS}<br>Phone: {d.PHONE}<br>E-mail: <a href="mailto:{d.EMAIL}">{d.EMAIL}</a></address>
    </div>
    <nav class="footer-links" aria-label="Quick links">
      <ul>
        <li><a href="/admissions/index.html">Admissions</a></li>
        <li><a href="/programs/index.html">Degree programs</a></li>
        <li><a href="/faculty/index.html">Faculty directory</a></li>
        <li><a href="/news/index.html">News</a></li>
        <li><a href="/private/staff-area.html">Staff area</a></li>
      </ul>
    </nav>
    <nav class="social-links" aria-label="Social media">
      <ul>
        <li><a href="https://social.example.com/northbridge-tech" rel="external">Follow us on Chirp</a></li>
        <li><a href="https://video.example.net/@northbridge" rel="external">Watch us on ViewTube</a></li>
        <li><a href="https://photos.example.org/northbridge" rel="external">Photos on Snapgram</a></li>
      </ul>
    </nav>
  </div>
  <div class="footer-legal">
    <p>&copy; 2025 {d.SCHOOL}. All rights reserved. Northbridge Institute of Technology is a fictional institution created for the litft demo.</p>
    <ul>
      <li><a href="/legal/privacy.html">Privacy policy</a></li>
      <li><a href="/legal/terms.html">Terms of use</a></li>
      <li><a href="/legal/privacy.html#cookies">Cookie settings</a></li>
      <li><a href="/sitemap.xml">Sitemap</a></li>
    </ul>
  </div>
</footer>"""

CSS = """/* Northbridge Institute of Technology: demo site stylesheet */
body { font-family: Georgia, serif; margin: 0; color: #1d2430; line-height: 1.5; }
a { color: #1f4e79; }
.skip-link { position: absolute; left: -999px; }
.cookie-banner { background: #263545; color: #fff; padding: 0.75rem 1.5rem; font-size: 0.9rem; }
.cookie-banner a { color: #f3c68b; }
.site-header { background: #34506b; color: #fff; padding: 0 1.5rem; }
.site-header a { color: #fff; text-decoration: none; }
.utility-bar ul, .main-nav ul, .footer-legal ul, .breadcrumb ol { list-style: none; margin: 0; padding: 0; display: flex; gap: 1rem; flex-wrap: wrap; }
.logo { display: block; font-size: 1.6rem; padding: 0.75rem 0; }
.logo-mark { background: #b87333; padding: 0 0.4rem; }
.breadcrumb { padding: 0.5rem 1.5rem; font-size: 0.85rem; }
.breadcrumb li + li::before { content: "\\203A"; margin-right: 0.5rem; }
.page { display: flex; gap: 2rem; padding: 0 1.5rem 2rem; }
main { flex: 3; max-width: 52rem; }
.sidebar { flex: 1; border-left: 1px solid #ccd; padding-left: 1rem; font-size: 0.9rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccd; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
.faq h3 { margin-bottom: 0.2rem; }
.site-footer { background: #1d2430; color: #dde; padding: 1.5rem; font-size: 0.9rem; }
.site-footer a { color: #f3c68b; }
.footer-columns { display: flex; gap: 3rem; flex-wrap: wrap; }
"""


def breadcrumb(page: Page) -> str:
    items = ['<li><a href="/">Home</a></li>']
    items += [f'<li><a href="{href}">{label}</a></li>' for href, label in page.crumbs]
    items.append(f'<li aria-current="page">{page.title}</li>')
    return '<nav class="breadcrumb" aria-label="Breadcrumb">\n  <ol>\n    ' + "\n    ".join(items) + "\n  </ol>\n</nav>"


def render(page: Page) -> str:
    sidebar = (
        f'\n<aside class="sidebar" aria-label="Related links">\n{page.sidebar.strip()}\n</aside>'
        if page.sidebar
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{page.title} | {d.SCHOOL}</title>
<meta name="description" content="{page.description}">
<link rel="stylesheet" href="/static/site.css">
</head>
<body>
<a class="skip-link" href="#content">Skip to main content</a>
{COOKIE_BANNER}
{HEADER}
{breadcrumb(page)}
<div class="page">
<main id="content">
<article>
{page.body.strip()}
</article>
</main>{sidebar}
</div>
{FOOTER}
</body>
</html>
"""


def robots_txt() -> str:
    return f"""# robots.txt for the Northbridge Institute of Technology demo site
User-agent: *
Disallow: {PRIVATE_PREFIX}

Sitemap: {PLACEHOLDER}/sitemap.xml
"""


def sitemap_xml(all_pages: list[Page], lastmods: dict[str, str] | None = None) -> str:
    urls = [p.url_path for p in all_pages if not p.url_path.startswith(PRIVATE_PREFIX)]
    entries = "\n".join(
        f"  <url><loc>{PLACEHOLDER}{u}</loc><lastmod>{(lastmods or {}).get(u, LASTMOD)}</lastmod></url>" for u in urls
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
{entries}
</urlset>
"""


def site_files(all_pages: list[Page], lastmods: dict[str, str] | None = None) -> dict[str, str]:
    """Every file of the site by its path: the pages, robots.txt, sitemap.xml and the stylesheet."""
    paths = [p.path for p in all_pages]
    if len(paths) != len(set(paths)):
        raise ValueError("two pages share a path")
    files = {page.path: render(page) for page in all_pages}
    files.update({"robots.txt": robots_txt(), "sitemap.xml": sitemap_xml(all_pages, lastmods), "static/site.css": CSS})
    return files


def version_2_files() -> tuple[dict[str, str], list[str]]:
    """The files of version 2 that differ from version 1 (changed pages dated version2.LASTMOD in the sitemap),
    and the paths version 2 no longer has."""
    first = site_files(pages.all_pages(Page))
    with version2.changed():
        second_pages = pages.all_pages(Page)
        draft = site_files(second_pages)
        lastmods = {p.url_path: version2.LASTMOD for p in second_pages if draft[p.path] != first.get(p.path)}
        second = site_files(second_pages, lastmods)
    differing = {path: text for path, text in second.items() if first.get(path) != text}
    return differing, sorted(set(first) - set(second))


def build(out: Path, version: int = 1) -> int:
    """Write the site under `out` (its previous content, README.md aside, is replaced); returns the page count.
    Version 2 writes only what differs from version 1, and removed.txt."""
    if version == 1:
        files = site_files(pages.all_pages(Page))
    else:
        files, removed = version_2_files()
        files[REMOVED_FILE] = "".join(f"{path}\n" for path in removed)
    out.mkdir(parents=True, exist_ok=True)
    for child in out.iterdir():
        if child.name != "README.md":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    for path, text in files.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return sum(path.endswith(".html") for path in files)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    version = 2 if "--version" in arguments and arguments[arguments.index("--version") + 1] == "2" else 1
    positional = [
        a for i, a in enumerate(arguments) if a != "--version" and (i == 0 or arguments[i - 1] != "--version")
    ]
    target = Path(positional[0]) if positional else DEFAULT_OUT if version == 1 else DEFAULT_OUT_V2
    print(f"wrote {build(target, version)} pages of version {version} to {target}")
