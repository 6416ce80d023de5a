"""Headless Chromium for the report tests.

A missing browser skips the test with the reason on a user's machine; CI (`.ci/run`) installs the
Debian ``chromium`` package and sets ``STROKECT_REQUIRE_BROWSER=1``, which turns a missing browser
into a failure there.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
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
