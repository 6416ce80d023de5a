"""Preprocessing: HU windows, brain / intracranial / CSF masks, symmetry, registration, resampling."""
