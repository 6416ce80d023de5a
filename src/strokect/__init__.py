"""strokect: stroke lesion segmentation, volumetry and reporting from head CT.

The Python API in three lines::

    import strokect
    result = strokect.segment({"ct": "ct.nii.gz", "cbf": "cbf.nii.gz", "cbv": "cbv.nii.gz"})
    print(result.volumes_ml)          # {"mask": 12.3}; result.outputs["mask"] is a Volume

`segment` is `strokect.pipelines.segment.segment` (imported on first use, so ``import strokect``
stays fast).
"""

from strokect.version import __version__

__all__ = ["__version__", "segment"]


def __getattr__(name: str):
    if name == "segment":
        from strokect.pipelines.segment import segment

        return segment
    raise AttributeError(f"module 'strokect' has no attribute {name!r}")
