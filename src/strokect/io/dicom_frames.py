"""Group the files of a DICOM series into time frames (4D CT perfusion) and give frame times.

Rules (documented in ``docs/io_dicom.md``):

- A series is 4D when its slice positions repeat, every position the same number ``T > 1`` of
  times. Unequal repeat counts are refused (frames with different position sets).
- Files are grouped into frames by the first of TemporalPositionIdentifier, AcquisitionNumber,
  AcquisitionTime, ContentTime, TriggerTime that splits them into exactly ``T`` groups of one
  file per position. Failing that, the files at each position are ranked by time (or by
  InstanceNumber when no time is present) and the k-th file of every position forms frame k.
- Frame time = mean time of the frame's files, from the first of AcquisitionTime, ContentTime,
  TriggerTime that is present in every file and differs between frames. ``time_s`` is relative
  to the first frame; a day roll-over (times spanning more than 12 h) is unwrapped.
- Frames are sorted by time.
"""

from __future__ import annotations

import numpy as np

from strokect.errors import InputError, warn
from strokect.io.dicom_scan import SliceHeader

TIME_TAGS = ("AcquisitionTime", "ContentTime", "TriggerTime")
_DAY_S = 86400.0


def unwrap_midnight(times_s: np.ndarray) -> np.ndarray:
    """Add one day to times-of-day after a midnight roll-over (span of more than 12 h)."""
    times_s = np.asarray(times_s, dtype=float).copy()
    if times_s.size and times_s.max() - times_s.min() > _DAY_S / 2:
        times_s[times_s < _DAY_S / 2] += _DAY_S
    return times_s


def _key_values(headers: list[SliceHeader], key: str) -> list | None:
    if key == "TemporalPositionIdentifier":
        values = [h.temporal_position for h in headers]
    elif key == "AcquisitionNumber":
        values = [h.acquisition_number for h in headers]
    else:
        values = [h.times_s.get(key) for h in headers]
    return None if any(v is None for v in values) else values


def _groups_by_key(headers, labels, n_frames: int, n_pos: int) -> tuple[list, str] | None:
    for key in ("TemporalPositionIdentifier", "AcquisitionNumber", *TIME_TAGS):
        values = _key_values(headers, key)
        if values is None:
            continue
        if key in TIME_TAGS:
            values = np.round(unwrap_midnight(np.array(values)), 3).tolist()
        groups: dict = {}
        for i, value in enumerate(values):
            groups.setdefault(value, []).append(i)
        if len(groups) != n_frames:
            continue
        if all(sorted(labels[g].tolist()) == list(range(n_pos)) for g in groups.values()):
            return [groups[k] for k in sorted(groups)], key
    return None


def _groups_by_rank(headers, labels, n_frames: int, n_pos: int) -> tuple[list, str]:
    key = next((k for k in TIME_TAGS if _key_values(headers, k) is not None), None)
    if key is not None:
        order_value = unwrap_midnight(np.array(_key_values(headers, key)))
    else:
        numbers = [h.instance_number for h in headers]
        if any(n is None for n in numbers):
            raise InputError(
                f"series with {n_pos} positions x {n_frames} repeats: cannot tell the frames "
                "apart (no temporal position, acquisition number, time or instance number)"
            )
        order_value = np.array(numbers, dtype=float)
        key = "InstanceNumber"
    frames: list[list[int]] = [[] for _ in range(n_frames)]
    for pos in range(n_pos):
        members = np.flatnonzero(labels == pos)
        for rank, i in enumerate(members[np.argsort(order_value[members], kind="stable")]):
            frames[rank].append(int(i))
    return frames, f"rank by {key}"


def group_frames(
    headers: list[SliceHeader], labels: np.ndarray, *, name: str, label: str
) -> tuple[list[list[int]], np.ndarray, dict]:
    """Split a series into frames.

    Parameters
    ----------
    headers
        The series' file headers.
    labels
        Position cluster label (0..P-1, increasing along the normal) of each header.
    name
        Series name for error messages (with the folder the user gave).
    label
        Series label for warnings (no path, no identifiers).

    Returns
    -------
    frames
        ``T`` lists of header indices, one per position, frames sorted by time.
    time_s
        ``(T,)`` frame times in seconds relative to the first frame.
    info
        ``{"frame_grouping": ..., "time_source": ...}``.
    """
    labels = np.asarray(labels)
    n_pos = int(labels.max()) + 1
    counts = np.bincount(labels, minlength=n_pos)
    if len(set(counts.tolist())) != 1:
        raise InputError(
            f"{name}: slice positions repeat unevenly ({counts.min()} to {counts.max()} files "
            f"per position over {n_pos} positions): frames cover different position sets"
        )
    n_frames = int(counts[0])
    found = _groups_by_key(headers, labels, n_frames, n_pos)
    frames, grouping = (
        found if found is not None else _groups_by_rank(headers, labels, n_frames, n_pos)
    )
    frames = [sorted(f, key=lambda i: labels[i]) for f in frames]
    time_s, source = _frame_times(headers, frames, label=label)
    order = np.argsort(time_s, kind="stable")
    frames = [frames[i] for i in order]
    time_s = time_s[order] - time_s[order][0]
    return frames, time_s, {"frame_grouping": grouping, "time_source": source}


def _frame_times(headers, frames, *, label: str) -> tuple[np.ndarray, str]:
    for key in TIME_TAGS:
        values = _key_values(headers, key)
        if values is None:
            continue
        values = unwrap_midnight(np.array(values, dtype=float))
        times = np.array([values[f].mean() for f in frames])
        if len(np.unique(np.round(times, 3))) == len(frames):
            return times, key
    warn(
        f"{label}: {len(frames)} frames but no acquisition/content/trigger time tells them "
        "apart; time_s is the frame index (1 s per frame)"
    )
    return np.arange(len(frames), dtype=float), "frame_index"
