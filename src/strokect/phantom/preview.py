"""PNG mosaic of one phantom case (matplotlib, Agg canvas): CT, CTP, maps, DWI, masks, NCCT pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from strokect.io.overlay import draw_overlay, new_figure, save_png


def _panels(case) -> list[tuple[str, np.ndarray, dict]]:
    a, f = case.acute, case.followup
    core = a["core"].array
    k = int(np.argmax(core.sum(axis=(1, 2)))) if core.any() else a["ct"].spatial_shape[0] // 2
    inf = f["infarct"].array | f["hemorrhage"].array
    kf = (
        int(np.argmax(inf.sum(axis=(1, 2))))
        if inf.any()
        else f["ncct_followup"].spatial_shape[0] // 2
    )
    fu, bl = f["ncct_followup"], f["ncct_baseline"]  # the baseline may have its own grid
    z = fu.origin[2] + kf * fu.spacing_mm[0]
    kb = int(np.clip(np.rint((z - bl.origin[2]) / bl.spacing_mm[0]), 0, bl.spatial_shape[0] - 1))
    aif = case.metadata["aif"]["curve_hu"]
    peak = int(np.argmax(aif))
    brain = {"cmap": "gray", "vmin": 0, "vmax": 80}
    return [
        ("acute NCCT [0,80] HU", a["ct"].array[k], brain),
        (
            "CTP at AIF peak [0,200] HU",
            a["ctp"].array[peak, k],
            {"cmap": "gray", "vmin": 0, "vmax": 200},
        ),
        ("CBF mL/100g/min", a["cbf"].array[k], {"cmap": "jet", "vmin": 0, "vmax": 80}),
        ("CBV mL/100g", a["cbv"].array[k], {"cmap": "jet", "vmin": 0, "vmax": 6}),
        ("MTT s", a["mtt"].array[k], {"cmap": "jet", "vmin": 0, "vmax": 15}),
        ("Tmax s", a["tmax"].array[k], {"cmap": "jet", "vmin": 0, "vmax": 16}),
        ("DWI", a["dwi"].array[k], {"cmap": "gray"}),
        (
            "labels (4 penumbra, 5 core)",
            a["labels"].array[k],
            {"cmap": "tab10", "vmin": 0, "vmax": 9},
        ),
        ("baseline NCCT [0,80] HU", bl.array[kb], brain),
        ("follow-up NCCT [0,80] HU", f["ncct_followup"].array[kf], brain),
        (
            "follow-up infarct (red), hemorrhage (yellow)",
            f["ncct_followup"].array[kf],
            {
                "masks": {
                    "infarct": f["infarct"].array[kf],
                    "hemorrhage": f["hemorrhage"].array[kf],
                },
                "colors": {"infarct": "red", "hemorrhage": "yellow"},
                "window": (0, 80),
            },
        ),
        (
            "follow-up bone [-100,1500] HU",
            f["ncct_followup"].array[kf],
            {"cmap": "gray", "vmin": -100, "vmax": 1500},
        ),
    ]


def write_preview(case, path: str | Path) -> Path:
    """Write a 3x4 PNG mosaic of ``case`` to ``path`` (atomic); returns the path."""
    panels = _panels(case)
    fig = new_figure(12, 9.6, dpi=80)
    m = case.metadata
    fig.suptitle(
        f"{case.case_id}: {m['lesion']['kind']} {m['lesion']['territory']}, class {m['lesion_class']}, "
        f"core {m['volumes_ml']['acute']['core']:.1f} mL, infarct {m['volumes_ml']['followup']['infarct']:.1f} mL",
        fontsize=10,
    )
    for i, (title, img, kw) in enumerate(panels):
        ax = fig.add_subplot(3, 4, i + 1)
        if "masks" in kw:
            draw_overlay(ax, img, kw["masks"], window=kw["window"], colors=kw["colors"])
        else:
            ax.imshow(img, interpolation="nearest", **kw)
        ax.set_title(title, fontsize=8)
        ax.set_axis_off()
    return save_png(fig, path)
