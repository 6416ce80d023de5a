"""Digital head phantom cohort (placeholder docstring, see docs/phantom.md)."""

from strokect.phantom.case import LABELS, PhantomCase, synth_case
from strokect.phantom.presets import PRESETS, Preset

__all__ = ["LABELS", "PRESETS", "PhantomCase", "Preset", "synth_case"]
