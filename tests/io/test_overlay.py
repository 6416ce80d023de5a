"""The overlay renderer: PNGs are written, and no renderer touches the matplotlib backend."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from strokect.io import Volume
from strokect.io.overlay import (
    draw_overlay,
    figure_to_png_bytes,
    largest_area_slice,
    new_figure,
    overlay_figure,
    panels_figure,
    save_png,
)

PNG = b"\x89PNG\r\n\x1a\n"
SRC = Path(__file__).resolve().parents[2] / "src" / "strokect"


@pytest.fixture(autouse=True)
def _no_backend_switch(monkeypatch):
    """Every test here fails if anything calls ``matplotlib.use``."""
    import matplotlib

    def refuse(*args, **kwargs):
        raise AssertionError(f"matplotlib.use{args} called by library code")

    monkeypatch.setattr(matplotlib, "use", refuse)


def _scene():
    rng = np.random.default_rng(0)
    image = rng.normal(40, 10, (6, 32, 32)).astype(np.float32)
    mask = np.zeros(image.shape, bool)
    mask[1, 10:14, 10:14] = True
    mask[3, 8:24, 8:24] = True
    return image, mask


def test_largest_area_slice():
    _, mask = _scene()
    assert largest_area_slice(mask) == 3
    assert largest_area_slice(np.zeros((7, 4, 4), bool)) == 3


def test_overlay_figure_png_shows_the_mask_in_red(tmp_path):
    from PIL import Image

    image, mask = _scene()
    fig = overlay_figure(image, {"lesion": mask}, window=(0, 80), title="t")
    path = save_png(fig, tmp_path / "sub" / "overlay.png")
    data = path.read_bytes()
    assert data[:8] == PNG
    assert [p.name for p in path.parent.iterdir()] == ["overlay.png"]  # no temporary file left
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    reddish = (rgb[..., 0] > 150) & (rgb[..., 1] < 100) & (rgb[..., 2] < 100)
    assert reddish.sum() > 50


def test_overlay_figure_single_array_empty_mask_and_volume_inputs():
    image, _ = _scene()
    vol = Volume(image, spacing_mm=(5.0, 1.0, 1.0))
    fig = overlay_figure(vol, np.zeros(image.shape, bool))  # percentile window, middle slice
    assert figure_to_png_bytes(fig)[:8] == PNG


def test_draw_overlay_on_black_background_with_options():
    _, mask = _scene()
    fig = new_figure(3, 3)
    ax = fig.add_subplot()
    draw_overlay(ax, None, {"a": mask[3], "b": ~mask[3]}, colors=["red", "#00ff00"],
                 fill_alpha={"a": 0.0}, linewidths=2.0, aspect=2.0)  # fmt: skip
    assert figure_to_png_bytes(fig, dpi=30, tight=True)[:8] == PNG


def test_panels_figure_one_row_of_panels():
    from PIL import Image

    from strokect.methods.base import OverlayPanel

    image, mask = _scene()
    panels = [
        OverlayPanel("ct", Volume(image, spacing_mm=(5.0, 1.0, 1.0)), window=(0, 80)),
        OverlayPanel("map", image * 2, cmap="magma"),
        OverlayPanel("no mask", image, show_mask=False),
    ]
    fig = panels_figure(panels, mask, title="three", size_in=2.0)
    assert [ax.get_title() for ax in fig.axes] == ["ct", "map", "no mask"]
    assert fig.get_suptitle() == "three"
    # the mask slice (largest area, z=3) on the panels that show it only
    assert [len(ax.collections) > 0 for ax in fig.axes] == [True, True, False]
    assert fig.axes[1].images[0].get_cmap().name == "magma"
    width, height = Image.open(io.BytesIO(figure_to_png_bytes(fig))).size
    assert (width, height) == (600, 200)
    one = panels_figure(panels[:1], mask, z=1, size_in=2.0)
    assert Image.open(io.BytesIO(figure_to_png_bytes(one))).size == (200, 200)
    with pytest.raises(ValueError, match="image shape"):
        panels_figure([OverlayPanel("bad", image[:, :16])], mask)


def test_draw_overlay_cmap_default_is_grey():
    image, mask = _scene()
    grey = figure_to_png_bytes(overlay_figure(image, mask, window=(0, 80)))
    assert figure_to_png_bytes(overlay_figure(image, mask, window=(0, 80), cmap="gray")) == grey
    assert figure_to_png_bytes(overlay_figure(image, mask, window=(0, 80), cmap="magma")) != grey


def test_preprocess_overlay_uses_the_renderer(tmp_path):
    from strokect.preprocess.overlay import save_mask_overlay

    image, mask = _scene()
    ct = Volume(image, spacing_mm=(5.0, 0.5, 0.5))
    masks = {"intracranial": ct.with_array(mask.astype(np.uint8)), "csf": ct.with_array(mask)}
    path = save_mask_overlay(ct, masks, tmp_path / "overlay.png", title="x")
    assert path == tmp_path / "overlay.png" and path.read_bytes()[:8] == PNG


def test_phantom_preview_uses_the_renderer(tmp_path):
    from strokect.phantom import synth_case
    from strokect.phantom.preview import write_preview

    path = write_preview(synth_case(0, "tiny"), tmp_path / "preview.png")
    assert path.read_bytes()[:8] == PNG


def test_report_overlay_mosaic_uses_the_renderer(tmp_path):
    from strokect.report.figures import figure_to_png_base64, overlay_mosaic

    image, mask = _scene()
    ref = np.roll(mask, 2, axis=2)
    for background in (image, None):
        fig = overlay_mosaic(mask, ref, spacing_mm=(5.0, 1.0, 1.0), image=background, n_slices=2)
        assert save_png(fig, tmp_path / "mosaic.png").read_bytes()[:8] == PNG
    assert figure_to_png_base64(fig).startswith("iVBORw0KGgo")


def test_importing_strokect_io_does_not_import_matplotlib():
    code = "import sys, strokect.io, strokect.io.overlay; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


_SCAN_SKIP: set[str] = set()  # no exception: every renderer uses strokect.io.overlay


def _matplotlib_misuse(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("matplotlib.pyplot")]
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").startswith("matplotlib.pyplot"):
                found.append(node.module)
            elif node.module == "matplotlib" and any(
                a.name in ("pyplot", "use") for a in node.names
            ):
                found.append(f"from matplotlib import {[a.name for a in node.names]}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr == "use":
                target = func.value
                if isinstance(target, ast.Name) and target.id in ("matplotlib", "mpl"):
                    found.append(f"{target.id}.use(...) at line {node.lineno}")
    return found


def test_no_library_module_uses_pyplot_or_switches_the_backend():
    bad = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in _SCAN_SKIP:
            continue
        found = _matplotlib_misuse(ast.parse(path.read_text(encoding="utf-8")))
        if found:
            bad[rel] = found
    assert not bad, f"matplotlib.use / pyplot in library code: {bad}"


def test_the_scan_detects_misuse():
    code = "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
    assert len(_matplotlib_misuse(ast.parse(code))) == 2
