"""The per-study perfusion report (`strokect perfusion` writes report.html and report.png)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from strokect.cli.main import main
from strokect.io import write_volume
from strokect.phantom import synth_case
from tests.browser import screenshot

#: an input folder named the way some PACS exports name them: it must not reach the report
PATIENT_FOLDER = "DOE^JANE_19570101_0012345"


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("perf")
    case = synth_case(0, "tiny", kind="ischemic")
    src = root / PATIENT_FOLDER / "ctp.nii.gz"
    write_volume(case.acute["ctp"], src)
    out = root / "out"
    assert main(["perfusion", str(src), "-o", str(out)]) == 0
    return out


def test_report_files_and_content(report_dir):
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    summary = json.loads((report_dir / "perfusion.json").read_text())
    r = summary["readout"]
    # the volumes the user acts on, as perfusion.json has them
    assert f"{r['core_ml']:.1f} mL" in page and f"{r['hypoperfusion_ml']:.1f} mL" in page
    assert f"{r['mismatch_ml']:.1f} mL" in page
    assert "Mismatch ratio" in page and "Research use only" in page
    assert "time to the maximum of the residue function" in page  # the Tmax definition used
    assert "oSVD" in page
    # the oscillation limit used at this series' step (tiny: 2 s frames, so the 2 s value)
    assert "<td>oSVD oscillation-index limit at this step</td><td>0.095</td>" in page
    # self-contained: two embedded PNGs, nothing fetched, no script
    images = page.split("src='data:image/png;base64,")[1:]
    assert len(images) == 2
    assert base64.b64decode(images[0].split("'")[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "src='http" not in page and "<script" not in page and "<link" not in page
    # no input path, no patient folder name
    text = "".join(part.split("'", 1)[-1] for part in page.split("base64,"))  # images dropped
    assert "DOE" not in text.upper() and "ctp.nii" not in text and str(report_dir) not in text
    png = (report_dir / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_png_shows_maps_and_overlays(report_dir):
    from PIL import Image

    img = np.asarray(Image.open(report_dir / "report.png").convert("RGB"), dtype=int)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    magenta = (r - g > 60) & (b - g > 60)  # drawn at 60 % opacity over the grey image
    green = (g - r > 60) & (g - b > 60)
    assert magenta.sum() > 20 and green.sum() > 50  # core and Tmax > 6 s overlays drawn
    assert ((r > 200) & (g < 60) & (b < 60)).sum() > 200  # jet colour maps: red present


def test_report_renders_in_headless_chromium(report_dir, tmp_path):
    pixels = screenshot(report_dir / "report.html", tmp_path / "shot.png", height=2400)
    assert pixels.shape == (2400, 1280)
    assert pixels.std() > 20
    assert (pixels < 100).mean() > 0.02  # text, tables and the black map backgrounds
    assert (pixels < 245).mean() > 0.1
