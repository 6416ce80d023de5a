"""The per-case report of ``strokect segment`` (`write_segment_report`)."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from strokect.io.overlay import edge_labels
from strokect.io.volume import Volume
from strokect.preprocess.overlay import radiological_view, screen_view
from strokect.report import segment_report
from strokect.report.segment_report import lesion_slices, scrub_provenance
from tests.browser import image_ink, render, screenshot
from tests.report.segment_case_for_tests import (
    FLIP_X,
    LESION_SLICES,
    PATIENT_FOLDER,
    SHA,
    write_case_report,
)

PNG = b"\x89PNG\r\n\x1a\n"


def _text_without_images(page: str) -> str:
    """The page with every base64 image payload removed (random base64 can spell anything)."""
    return re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,", page)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("segment_report")
    card = folder.parent / "toy_MODEL_CARD.md"
    card.write_text("# Toy model\nTrained on 12 digital phantoms; Dice 0.71 held out.\n")
    out = write_case_report(folder / "case", cards=[card])
    out["page"] = out["paths"]["report_html"].read_text(encoding="utf-8")
    return out


def test_files_are_a_png_and_one_self_contained_page(report):
    paths, page = report["paths"], report["page"]
    assert set(paths) == {"report_html", "report_png"}
    assert paths["report_png"].read_bytes()[:8] == PNG
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    lowered = page.lower()
    for banned in ("http:", "https:", "<script", "<link", "url(", "@import", "<iframe"):
        assert banned not in lowered
    sources = re.findall(r"src='([^']*)'", page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert all(base64.b64decode(s.split(",", 1)[1])[:8] == PNG for s in sources)
    assert not list(paths["report_html"].parent.glob(".tmp-*"))  # atomic writes
    assert "Research software, not for clinical use" in page
    assert len(page) < 10_000_000


def test_every_lesion_slice_is_shown(report):
    page = report["page"]
    assert lesion_slices(report["outputs"]["lesion"].array) == LESION_SLICES
    assert page.count("<img class='slice'") == len(LESION_SLICES)
    assert re.findall(r"<figcaption>slice (\d+)</figcaption>", page) == [
        str(z) for z in LESION_SLICES
    ]


def test_volumes_method_weights_card_and_provenance(report):
    page = report["page"]
    for name, ml in report["volumes"].items():
        assert f"{name}{' (primary)' if name == 'lesion' else ''}</td>" in page
        assert f"{ml:.2f} mL" in page
    assert report["volumes"]["lesion"] > report["volumes"]["core"] > 0
    assert "toymethod" in page and "toy_fold0.pt" in page and SHA[:12] in page
    assert "<details><summary>Model card <code>toy_MODEL_CARD.md</code>" in page
    assert "Trained on 12 digital phantoms" in page
    for value in ("9.8.7", "case_042", "0.45", "1234", "min_size_vox", "predict", "cpu"):
        assert value in page
    assert "probability" in page and "uncertainty" in page


def test_no_path_and_no_patient_folder_name(report):
    text = _text_without_images(report["page"])
    assert PATIENT_FOLDER not in text and "DOE" not in text.upper()
    assert "/data/export" not in text and "ct.nii.gz" not in text
    for key in ("path", "command", "series"):
        assert f">{key}<" not in text and f'"{key}"' not in text
    assert "[path removed]" in text  # the input-check message kept, its path replaced


def test_scrub_provenance_drops_path_keys_at_any_depth():
    record = {
        "method": "m",
        "weights": [{"file": "w.pt", "path": "/a/b/w.pt", "sha256": "x"}],
        "deep": {"inner": {"folder": "/x", "command": "run", "keep": 3, "out_dir": "o"}},
        "note": "read C:\\scans\\P1\\ct.nii and ~/x/y and ../up and a/b/c; mL/100 g stays",
        "nan": float("nan"),
    }
    clean = scrub_provenance(record)
    assert clean["weights"] == [{"file": "w.pt", "sha256": "x"}]
    assert clean["deep"] == {"inner": {"keep": 3}}
    assert clean["note"].count("[path removed]") == 4 and "mL/100 g stays" in clean["note"]
    assert clean["nan"] == "nan" and clean["method"] == "m"
    assert record["weights"][0]["path"] == "/a/b/w.pt"  # the input is not changed


@pytest.mark.parametrize("direction", [np.eye(3), FLIP_X], ids=["identity", "flipped_x"])
def test_left_marker_is_on_the_side_of_the_left_lesion(direction):
    # the helper: identity direction = radiological (patient left on the screen's right)
    labels = edge_labels(direction)
    assert labels == (
        {"left": "R", "right": "L", "top": "A", "bottom": "P"}
        if direction[0, 0] > 0
        else {"left": "L", "right": "R", "top": "A", "bottom": "P"}
    )
    # the report's slices, turned to radiological view: lesion and "L" both on the right
    from tests.report.segment_case_for_tests import case_outputs

    grid, outputs = case_outputs(direction)
    order, flips = radiological_view(grid)
    shown = screen_view(outputs["lesion"].array[6], order, flips)
    lesion_col = np.nonzero(shown)[1].mean() / shown.shape[1]
    turned = edge_labels(direction, order=order, flips=flips)
    assert lesion_col > 0.5 and turned["right"] == "L"
    # and in the drawn panel: the "L" letter sits on the side of the lesion's red fill
    view = segment_report._View(grid, (0.0, 80.0), {"lesion": outputs["lesion"]}, "lesion", {})
    rgb, marks = view.mask_panel(6, view.shape(segment_report.PANEL_PX))
    width = rgb.shape[1]
    assert marks["L"][0] > width / 2 > marks["R"][0]
    for letter in "LR":  # a white letter on its black box at that place
        x, y = marks[letter]
        box = rgb[y - 6 : y + 7, x - 6 : x + 7]
        assert (box == 255).all(axis=-1).any() and (box == 0).all(axis=-1).any()
    red = _reddish(rgb)  # the filled lesion layer and its outline
    assert red.sum() > 100 and np.nonzero(red)[1].mean() / width > 0.5
    assert any(text.endswith(" mm") for text in marks)  # scale bar label


def _reddish(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0].astype(int) - rgb[..., 1:].max(axis=-1) > 40


def test_one_voxel_lesion_stays_visible_on_a_large_slice():
    grid = Volume(np.full((3, 512, 512), 30.0), spacing_mm=(5.0, 0.45, 0.45))
    lesion = np.zeros(grid.spatial_shape, np.uint8)
    lesion[1, 300, 101] = 1
    prob = grid.with_array(lesion * np.float32(0.9), kind="probability")
    view = segment_report._View(grid, (0.0, 80.0), {"lesion": grid.with_array(lesion)},
                                "lesion", {"p": (prob, "probability")})  # fmt: skip
    shape = view.shape(segment_report.PANEL_PX)
    assert shape == (segment_report.PANEL_PX,) * 2  # shrunk from 512
    rgb, _ = view.mask_panel(1, shape)
    ys, xs = np.nonzero(_reddish(rgb))
    assert len(ys) and abs(ys.mean() - 300 * shape[0] / 512) < 2
    assert abs(xs.mean() - 101 * shape[1] / 512) < 2
    drawn, bar = view.map_panel(1, "p", shape)
    assert bar.shape[0] == shape[0] and (drawn == 255).all(axis=-1).any()  # white outline


def test_empty_primary_shows_evenly_spaced_slices(tmp_path):
    out = write_case_report(tmp_path / "case", empty=True)
    page = out["paths"]["report_html"].read_text(encoding="utf-8")
    assert "No lesion in the primary mask" in page
    assert page.count("<img class='slice'") == segment_report.N_EMPTY_SLICES
    assert "0.00 mL" in page
    assert "No model card" in page


def test_domain_and_plausibility_warnings(tmp_path):
    changes = {
        "domain_check": {"checked": True, "out_of_domain": True, "scope": "phantom NCCT only",
                         "findings": [{"what": "brain median HU", "value": 61.0,
                                       "training": [25.0, 40.0], "out_of_domain": True}]},
        "output_checks": {"findings": [
            {"output": "lesion", "roi_fraction": 0.8, "flags": ["too_large"]},
            {"output": "infarct", "roi_fraction": 0.2, "mirrored_fraction": 0.65,
             "mirrored_ml": 220.4, "flags": ["mirror_symmetric"]},
            {"output": "hemorrhage", "roi_fraction": 0.01, "mirrored_fraction": 0.0,
             "mirrored_ml": 0.0, "flags": []},
        ], "implausible": ["lesion", "infarct"]},
    }  # fmt: skip
    out = write_case_report(tmp_path / "case", changes=changes)
    page = out["paths"]["report_html"].read_text(encoding="utf-8")
    assert "Out of domain: the input differs" in page and "brain median HU 61.0" in page
    assert "Implausible output: lesion (covers 80% of the region of interest" in page
    assert "Implausible output: infarct (65% (220.4 mL) lies on its own mirror image" in page
    assert "Implausible output: hemorrhage" not in page
    assert page.count("class='warn'") == 3


def test_many_slices_are_downsampled_to_the_budget(tmp_path, monkeypatch):
    monkeypatch.setattr(segment_report, "IMAGE_BUDGET_BYTES", 120_000)
    out = write_case_report(tmp_path / "case")
    page = out["paths"]["report_html"].read_text(encoding="utf-8")
    payloads = re.findall(r"base64,([A-Za-z0-9+/=]+)", page)
    assert len(payloads) == len(LESION_SLICES)  # still every lesion slice
    assert sum(len(p) * 3 / 4 for p in payloads) < 1.3 * 120_000
    assert "Images reduced to" in page


def test_wrong_inputs_are_named(tmp_path):
    from tests.report.segment_case_for_tests import case_outputs, provenance

    grid, outputs = case_outputs()
    with pytest.raises(ValueError, match="primary: 'nope'"):
        segment_report.write_segment_report(
            tmp_path, outputs=outputs, primary="nope", background=grid, window=None,
            volumes_ml={}, provenance=provenance(),
        )  # fmt: skip
    small = Volume(np.zeros((14, 10, 64), np.uint8), spacing_mm=grid.spacing_mm)
    with pytest.raises(ValueError, match="not the background grid"):
        segment_report.write_segment_report(
            tmp_path, outputs={"lesion": small}, primary="lesion", background=grid, window=None,
            volumes_ml={}, provenance=provenance(),
        )  # fmt: skip


def test_report_renders_in_headless_chromium(report, tmp_path):
    page = report["paths"]["report_html"]
    seen = render(page, tmp_path, height=1600)
    assert seen.console == [] and seen.resources == []
    slices = [i for i in seen.images if i["alt"].startswith("slice ")]
    assert len(slices) == len(LESION_SLICES) and all(i["ok"] and i["width"] > 200 for i in slices)
    assert all(i["src"].startswith("data:image/png") for i in seen.images)
    for text in ("Research software, not for clinical use", "toymethod", SHA[:12],
                 f"{report['volumes']['lesion']:.2f} mL", "slice 4"):  # fmt: skip
        assert text in seen.text
    assert PATIENT_FOLDER not in seen.text
    pixels = screenshot(page, tmp_path / "shot.png", height=1600)
    assert pixels.std() > 20  # not blank
    visible = [i for i in slices if i["rect"][1] + i["rect"][3] <= pixels.shape[0]]
    assert visible and all(image_ink(pixels, i["rect"]) > 0.3 for i in visible)


def test_slices_larger_than_the_first_trigger_a_second_pass(monkeypatch):
    """The first slice predicts the size of all; when it under-predicts, all are redrawn."""
    full = segment_report.PANEL_PX
    sizes = {0: 1_000, 1: 40_000, 2: 40_000}  # bytes at full size; scale with the panel area
    monkeypatch.setattr(segment_report, "IMAGE_BUDGET_BYTES", 30_000)
    monkeypatch.setattr(segment_report, "_slice_png",
                        lambda view, z, *, panel_px, voxel_ml:
                        b"A" * int(sizes[z] * (panel_px / full) ** 2))  # fmt: skip
    images, panel_px = segment_report._slice_images(None, [0, 1, 2], 0.001)
    assert panel_px < full and len(images) == 3
    assert sum(len(b) * 3 / 4 for b in images) <= 1.5 * 30_000
