"""Error and warning types shared by every strokect module.

User-caused problems raise the built-in ``ValueError`` / ``TypeError`` / ``FileNotFoundError``
(or `InputError`, a ``ValueError``) with a message naming the argument and the value received; the
CLI prints that message as one line and exits non-zero. Recoverable oddities (a conflicting
header that was resolved, a non-uniform slice spacing that was resampled) are reported with
`StrokectWarning` through :mod:`warnings`.
"""

from __future__ import annotations

import warnings


class InputError(ValueError):
    """An input file or argument that strokect cannot use; the message is one complete line."""


class StrokectWarning(UserWarning):
    """Something in the input was unusual and strokect corrected or worked around it."""


def warn(message: str) -> None:
    """Issue a `StrokectWarning` attributed to the caller of the function that calls this."""
    warnings.warn(message, StrokectWarning, stacklevel=3)
