"""Digital head phantom cohort (placeholder docstring, see docs/phantom.md)."""

from strokect.phantom.case import LABELS, PhantomCase, synth_case
from strokect.phantom.cohort import case_seed, write_cohort
from strokect.phantom.presets import PRESETS, Preset
from strokect.phantom.writers import write_case

__all__ = [
    "LABELS",
    "PRESETS",
    "PhantomCase",
    "Preset",
    "case_seed",
    "synth_case",
    "write_case",
    "write_cohort",
]
