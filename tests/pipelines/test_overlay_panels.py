"""`Method.overlay_panels`: the shared hook that decides what ``overlay.png`` shows. The default is
the single panel ``segment`` always drew; a method returning several panels gets them side by
side (`strokect.io.overlay.panels_figure`) with no change to the segment pipeline."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from strokect.io import Volume
from strokect.io.overlay import figure_to_png_bytes, overlay_figure
from strokect.methods import registry
from strokect.methods.base import OverlayPanel
from strokect.methods.checkpoint import save_checkpoint
from strokect.methods.examples import ToyEndToEnd
from strokect.pipelines.segment import NOTE, segment


class ThreePanelToy(ToyEndToEnd):
    """The end-to-end example showing input / synthesized image / probability side by side."""

    name = "toy-three-panels"

    def overlay_panels(self, prepared, outputs):
        return [
            *super().overlay_panels(prepared, outputs),
            OverlayPanel("synthesized", outputs["synthesized"], cmap="magma"),
            OverlayPanel("probability", outputs["probability"].array, (0.0, 1.0), show_mask=False),
        ]


def _ncct(shape=(3, 32, 32)) -> Volume:
    rng = np.random.default_rng(0)
    _, y, x = np.indices(shape)
    head = ((y - 16) / 13) ** 2 + ((x - 16) / 11) ** 2 < 1
    array = np.where(head, 35.0, -1000.0) + rng.normal(0, 3, shape)
    return Volume(array.astype(np.float32), spacing_mm=(5.0, 0.9, 0.9))


@pytest.fixture
def toy_weights(monkeypatch, tmp_path):
    """Untrained checkpoints of the default and the three-panel toy (outputs, not accuracy)."""
    monkeypatch.setitem(registry.METHODS, "toy-end-to-end", "strokect.methods.examples:ToyEndToEnd")
    monkeypatch.setitem(
        registry.METHODS, ThreePanelToy.name, f"{__name__}:{ThreePanelToy.__name__}"
    )
    paths = {}
    for cls in (ToyEndToEnd, ThreePanelToy):
        torch.manual_seed(0)
        method = cls()
        paths[cls.name] = save_checkpoint(
            tmp_path / cls.name / "model.pt", method, method.build_networks()
        )
    return paths


def _png_size(path) -> tuple[int, int]:
    """(width, height) in pixels."""
    from matplotlib.image import imread

    height, width = imread(io.BytesIO(path.read_bytes()), format="png").shape[:2]
    return width, height


def test_default_hook_is_one_panel_of_the_target():
    method = ToyEndToEnd()
    ct = _ncct()
    ct.metadata["role"] = "ncct"
    prepared = method.prepare({"ncct": ct})
    (panel,) = method.overlay_panels(prepared, {})
    assert panel.image is prepared.target and panel.window == (0.0, 80.0)
    assert panel.cmap == "gray" and panel.show_mask
    cbf = _ncct().with_array(np.ones((3, 32, 32), np.float32), role="cbf")
    (panel,) = method.overlay_panels(method.prepare({"ncct": cbf}), {})
    assert panel.window is None  # not a CT: the slice's percentile window, as before


def test_three_panels_give_a_wider_png_and_the_default_is_unchanged(toy_weights, tmp_path):
    ct = _ncct()
    weights = toy_weights["toy-end-to-end"]
    prob = segment({"ncct": ct}, method="toy-end-to-end", weights=weights).outputs["probability"]
    options = [f"threshold={np.quantile(prob.array, 0.8):.6f}"]  # a mask of about 20 %
    default = segment({"ncct": ct}, tmp_path / "one", method="toy-end-to-end", weights=weights,
                      options=options)  # fmt: skip
    three = segment({"ncct": ct}, tmp_path / "three", method=ThreePanelToy.name,
                    weights=toy_weights[ThreePanelToy.name], options=options)  # fmt: skip
    (w1, h1), (w3, h3) = _png_size(default.paths["overlay"]), _png_size(three.paths["overlay"])
    assert w3 > 2 * w1 and h3 <= h1 and w3 > 2 * h3
    # the default panel draws exactly the figure segment drew before the hook existed
    mask = default.outputs["mask"].array
    assert 0 < mask.sum() < mask.size
    title = f"toy-end-to-end: mask {default.volume_ml:.2f} mL ({NOTE})"
    before = overlay_figure(ct.array, {"lesion": mask > 0}, window=(0.0, 80.0), title=title)
    assert default.paths["overlay"].read_bytes() == figure_to_png_bytes(before)
