"""Headless Chromium for the report tests.

A missing browser skips the test with the reason on a user's machine; CI (`.ci/run`) installs the
Debian ``chromium`` package and sets ``STROKECT_REQUIRE_BROWSER=1``, which turns a missing browser
into a failure there.
"""

from __future__ import annotations

import html
import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


def chromium() -> str:
    """Path of the Chromium executable; skips (or fails under CI) when there is none."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        reason = "chromium is not installed (apt install chromium)"
        if os.environ.get("STROKECT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}; STROKECT_REQUIRE_BROWSER=1 requires it")
        pytest.skip(reason)
    return path


def screenshot(page: Path, shot: Path, *, width: int = 1280, height: int = 2000) -> np.ndarray:
    """Render ``page`` headless into ``shot`` (PNG) and return its grey levels (rows, cols)."""
    from PIL import Image

    profile = shot.parent / f".{shot.stem}-profile"
    cmd = [
        chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
        f"--user-data-dir={profile}", f"--screenshot={shot}", f"--window-size={width},{height}",
        Path(page).resolve().as_uri(),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    return np.asarray(Image.open(io.BytesIO(shot.read_bytes())).convert("L"), dtype=float)


#: appended to a copy of the page (never to the report itself): after load it writes what the
#: browser made of every image, and every resource it fetched, into an element of the DOM
_PROBE = """<script>window.addEventListener('load', () => {
  const images = [...document.images].map(i => { const b = i.getBoundingClientRect();
    return {alt: i.alt, src: i.getAttribute('src').slice(0, 22), ok: i.complete && i.naturalWidth > 0,
            width: i.naturalWidth, rect: [b.left + scrollX, b.top + scrollY, b.width, b.height]}; });
  const resources = performance.getEntriesByType('resource').map(e => e.name);
  const out = document.createElement('pre'); out.id = 'strokect-probe';
  out.textContent = JSON.stringify({images, resources, text: document.body.innerText});
  document.body.appendChild(out);
});</script>"""


@dataclass
class Rendered:
    """What headless Chromium made of a page (`render`)."""

    text: str  # the visible text of the page (``document.body.innerText``)
    images: list[dict]  # per <img>: alt, src (start), ok (decoded), width, rect [x, y, w, h] px
    resources: list[str]  # every URL fetched while loading (a self-contained page: none)
    console: list[str]  # console messages and uncaught errors of the page itself


def render(page: Path, workdir: Path, *, width: int = 1280, height: int = 2000) -> Rendered:
    """Load ``page`` in headless Chromium and report text, images, fetches and console lines.

    The page is loaded twice: as it is (its console output, read from Chromium's log on stderr,
    ``INFO:CONSOLE`` lines) and as a copy in ``workdir`` with a probe script appended (the page
    itself holds no script) that records the DOM text, each image's decoded size and position
    at this window size (as in `screenshot`) and the resources fetched.
    """
    import json
    import re

    console = []
    for name, url in (("page", Path(page).resolve().as_uri()), ("probe", None)):
        if url is None:
            probe = workdir / f"{Path(page).stem}.probe.html"
            source = Path(page).read_text(encoding="utf-8")
            cut = source.rfind("</body>")
            probe.write_text(source[:cut] + _PROBE + source[cut:], encoding="utf-8")
            url = probe.resolve().as_uri()
        profile = workdir / f".{Path(page).stem}-{name}-profile"
        cmd = [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={width},{height}",
            "--enable-logging=stderr", "--v=0", "--dump-dom", url,
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
        shutil.rmtree(profile, ignore_errors=True)
        if name == "page":
            console = [
                line
                for line in done.stderr.splitlines()
                if "CONSOLE" in line or "Uncaught" in line or "Failed to load" in line
            ]
            continue
        found = re.search(r'<pre id="strokect-probe">(.*?)</pre>', done.stdout, re.S)
        if found is None:
            raise AssertionError(f"the probe did not run on {page}; DOM: {done.stdout[-500:]}")
        record = json.loads(html.unescape(found.group(1)))
    return Rendered(record["text"], record["images"], record["resources"], console)


def image_ink(pixels: np.ndarray, rect, *, white: float = 245.0) -> float:
    """Share of the pixels inside ``rect`` ([x, y, w, h] in px) of a screenshot that are not white."""
    x, y, w, h = (round(v) for v in rect)
    region = pixels[max(y, 0) : y + h, max(x, 0) : x + w]
    return float((region < white).mean()) if region.size else 0.0
