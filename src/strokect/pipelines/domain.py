"""Record the training-input statistics of a model in its checkpoints (`strokect.data.domain`).

`strokect train` records them for its run; ``strokect domain WEIGHTS --data ROOT`` records them
for existing weights, from the dataset they were trained on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from strokect.data.domain import training_domain

__all__ = ["domain_of_cases", "record_domain"]


def domain_of_cases(method, cases: Iterable[Any], *, scope: str, cache_dir=None) -> dict:
    """`training_domain` of ``cases`` as the method sees them (its input roles, its ROI)."""

    def inputs():
        for case in cases:
            prepared = method.prepare_case(case, cache_dir=cache_dir)
            roles = method.input_roles().required
            yield case.load_roles(roles), prepared.target_roi, prepared.grid

    return training_domain(inputs(), scope=scope)


def record_domain(
    weights: str | Path | Sequence[str | Path],
    data_root: str | Path,
    *,
    scope: str | None = None,
    cache_dir=None,
) -> tuple[dict, Sequence[Path]]:
    """Compute the domain of the cases of ``data_root`` and store it in every checkpoint of
    ``weights`` (checkpoint files or run folders). Returns the domain and the rewritten files."""
    from strokect.data import load_dataset
    from strokect.methods.checkpoint import find_model_checkpoints, load_model, store_domain

    items = [weights] if isinstance(weights, (str, Path)) else list(weights)
    paths = [p for item in items for p in find_model_checkpoints(item)]
    method, _ = load_model(paths[0])
    cases = load_dataset(data_root).cases
    text = scope or f"trained on the {len(cases)} cases of {Path(data_root).name}"
    domain = domain_of_cases(method, cases, scope=text, cache_dir=cache_dir)
    written = []
    for path in paths:
        written.append(store_domain(path, domain))
        best = path.with_name("best.pt")
        if path.name == "model.pt" and best.is_file():
            written.append(store_domain(best, domain))
    return domain, written
