"""`Case` and `Dataset`: what every dataset layout reader returns.

A case is one set of co-acquired images of one patient (an ISLES 2018 slab, an ISLES 2024 subject,
a manifest ``case_id``). Paths only: nothing is read until `Case.load` is called.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from strokect.errors import InputError
from strokect.io.volume import Volume

#: Image roles that name the same image in different layouts (ISLES 2018 "CT" is the acute NCCT).
ROLE_SYNONYMS: dict[str, tuple[str, ...]] = {"ct": ("ncct",), "ncct": ("ct",)}
#: Image roles that may lie on a grid of their own in a case without `Case.grid_groups`: the
#: earlier scan of a longitudinal pair (``ncct_baseline``). A baseline and a follow-up NCCT of one
#: patient are two acquisitions, with their own slice thickness, slice positions and z extent (and
#: head pose), and whoever uses the pair registers one to the other; the follow-up's masks,
#: however, must share the follow-up's grid. So the geometry checks (`Case.load_all`,
#: `Case.check_geometry`) compare every other role of such a case and leave these out.
OWN_GRID_ROLES: tuple[str, ...] = ("ncct_baseline",)


@dataclass
class Case:
    """One case of a dataset.

    Attributes
    ----------
    case_id
        Unique within its dataset (``case_1``, ``sub-stroke0001``, a manifest id).
    patient_id
        The patient the case belongs to; several cases (e.g. ISLES 2018 slabs) may share one.
        Splits must be made per patient. A challenge pseudonym, never a real identifier.
    images
        Image role (``ncct``, ``ct``, ``ctp``, ``cbf``...) -> path of an existing file.
    masks
        Mask role (``core``, ``infarct``, ``lesion``...) -> path of an existing file.
    missing
        Roles (image or mask) the layout expects for this case but whose file is absent.
    slab
        Slab letter when one patient was split into several cases (ISLES 2018), else None.
    layout
        Name of the layout the case was read from (``isles2018``, ``isles2024``, ``manifest``).
    split
        Split named by the layout itself (``train`` / ``test`` folders), else None.
    native_names
        Role -> the layout's own name for it (``mtt`` -> ``CT_MTT``), for messages.
    grid_groups
        Roles that must share one grid, group by group (see `check_geometry`); None means all
        roles of the case share one grid, except the roles in `OWN_GRID_ROLES`
        (``ncct_baseline``, which may have its own grid: see there). A role ``<role>_<space>`` is ``<role>`` resampled to
        the grid of ``<space>`` (ISLES 2024 ``space-ncct`` derivatives: ``cbf_ncct``); see
        `resolve_roles`.
    folder
        Where the case's files were looked for (case folder, subject folder or manifest file),
        named in messages about missing roles.
    absent_files
        Role -> a path the layout lists for it (a manifest row) that does not exist.
    metadata
        Per-case information from a ``case_info.csv`` beside the dataset (`strokect.data.case_info`:
        e.g. the phantom's ``lesion_class``, ``kind``, ``infarct_ml``); empty without one.
    """

    case_id: str
    patient_id: str
    images: dict[str, Path] = field(default_factory=dict)
    masks: dict[str, Path] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    slab: str | None = None
    layout: str = ""
    split: str | None = None
    native_names: dict[str, str] = field(default_factory=dict)
    grid_groups: list[list[str]] | None = None
    folder: Path | None = None
    absent_files: dict[str, Path] = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)

    @property
    def lesion_class(self) -> str | None:
        """Follow-up hypodensity class (``severe``/``intermediate``/``subtle``) from `metadata`."""
        return self.metadata.get("lesion_class")

    @property
    def roles(self) -> list[str]:
        """Image roles then mask roles that are present."""
        return [*self.images, *self.masks]

    def path(self, role: str) -> Path:
        """Path of an image or mask role.

        Mask roles may also be given as ``mask_<role>``; ``mask`` alone means the only mask. The
        acute non-contrast CT answers to both ``ct`` (ISLES 2018 naming) and ``ncct`` (ISLES 2024
        and manifest naming), see `ROLE_SYNONYMS`.

        Raises
        ------
        InputError
            When the role is absent: one line naming the case, the role (and the layout's own
            name for it), the folder looked in and the roles present.
        """
        for name in (role, *ROLE_SYNONYMS.get(role, ())):
            if name in self.images:
                return self.images[name]
        if role in self.masks:
            return self.masks[role]
        if role.startswith("mask_") and role[5:] in self.masks:
            return self.masks[role[5:]]
        if role == "mask" and len(self.masks) == 1:
            return next(iter(self.masks.values()))
        names = (role, *ROLE_SYNONYMS.get(role, ()))
        listed = next((self.absent_files[n] for n in names if n in self.absent_files), None)
        if listed is not None:
            raise InputError(
                f"case {self.case_id}: the {role!r} file listed in {self.folder} does not exist: "
                f"{listed}"
            )
        why = " (expected but missing)" if any(n in self.missing for n in names) else ""
        native = self.native_names.get(role)
        named = f" ({native})" if native and native != role else ""
        where = f" in {self.folder}" if self.folder is not None else ""
        raise InputError(
            f"case {self.case_id}: no role {role!r}{named}{why}{where}; "
            f"present: {', '.join(self.roles) or 'none'}"
        )

    def resolve_roles(self, roles: Iterable[str]) -> dict[str, Path]:
        """Paths for ``roles`` taken, where possible, from one grid group.

        Each role may be given by the role itself, a `ROLE_SYNONYMS` synonym, or a resampled
        variant ``<role>_<space>``. When the case has grid groups, the first group that holds
        every role (in one of these forms) is used, so that e.g. ``ct, cbf, cbv`` of an ISLES
        2024 case resolve to the NCCT and the perfusion maps registered to it (``cbf_ncct``),
        not the maps on the CTP grid. Otherwise each role is `path` of itself.

        Raises
        ------
        InputError
            A role the case does not have at all (see `path`).
        """
        roles = list(roles)
        for group in self.grid_groups or []:
            found = {}
            for role in roles:
                names = (role, *ROLE_SYNONYMS.get(role, ()))
                match = next((n for n in names if n in group and n in self.images), None)
                if match is None:
                    match = next(
                        (g for g in group if g in self.images and g.rsplit("_", 1)[0] in names),
                        None,
                    )
                if match is None:
                    break
                found[role] = self.images[match]
            else:
                return found
        return {role: self.path(role) for role in roles}

    def load(self, role: str, **read_options) -> Volume:
        """Read one role with `strokect.io.read_volume` (options are passed through)."""
        from strokect.io.readwrite import read_volume

        volume = read_volume(self.path(role), **read_options)
        volume.metadata.setdefault("role", role)
        return volume

    def load_roles(self, roles: Iterable[str]) -> dict[str, Volume]:
        """Read ``roles`` from the files `resolve_roles` picks (one grid group where possible)."""
        from strokect.io.readwrite import read_volume

        out = {}
        for role, path in self.resolve_roles(roles).items():
            out[role] = read_volume(path)
            out[role].metadata.setdefault("role", role)
        return out

    def load_all(
        self, roles: Iterable[str] | None = None, *, check_geometry: bool = True
    ) -> dict[str, Volume]:
        """Read several roles (default: all present); refuse disagreeing geometries.

        Only 3D volumes and the spatial grid of 4D ones are compared, with
        `strokect.io.check_same_geometry` (which raises `InputError` naming the mismatch), within
        each grid group (without `grid_groups`: all roles but `OWN_GRID_ROLES`).
        """
        from strokect.io.checks import check_same_geometry

        volumes = {role: self.load(role) for role in (roles if roles is not None else self.roles)}
        if check_geometry:
            for group in self._groups(volumes):
                check_same_geometry({role: volumes[role] for role in group})
        return volumes

    def _groups(self, roles: Iterable[str]) -> list[list[str]]:
        present = list(roles)
        if self.grid_groups is None:
            return [[r for r in present if r not in OWN_GRID_ROLES]]
        groups = [[r for r in group if r in present] for group in self.grid_groups]
        return [g for g in groups if len(g) > 1]

    def check_geometry(self) -> None:
        """Read every present role and refuse grids that disagree within a grid group.

        Raises
        ------
        InputError
            ``case <id>: geometry mismatch: ...`` naming the two roles.
        """
        try:
            self.load_all()
        except InputError as exc:
            raise InputError(f"case {self.case_id}: {exc}") from None


@dataclass
class Dataset:
    """A dataset root read by one layout reader: its layout name and its cases."""

    layout: str
    root: Path
    cases: list[Case] = field(default_factory=list)

    def __iter__(self) -> Iterator[Case]:
        return iter(self.cases)

    def __len__(self) -> int:
        return len(self.cases)

    def __getitem__(self, case_id: str) -> Case:
        for case in self.cases:
            if case.case_id == case_id:
                return case
        ids = self.case_ids
        shown = ", ".join(ids[:10]) + (f" ... ({len(ids)} cases)" if len(ids) > 10 else "")
        raise InputError(f"no case {case_id!r} in {self.root}; cases: {shown}")

    @property
    def case_ids(self) -> list[str]:
        return [c.case_id for c in self.cases]

    def patients(self) -> dict[str, list[Case]]:
        """Patient id -> its cases, in dataset order."""
        out: dict[str, list[Case]] = {}
        for case in self.cases:
            out.setdefault(case.patient_id, []).append(case)
        return out


def natural_key(text: str) -> list:
    """Sort key that orders ``case_2`` before ``case_10``."""
    import re

    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


def mark_missing(cases: list[Case], expected: Iterable[str] = ()) -> None:
    """Fill each case's ``missing`` with the roles in ``expected`` or in any other case but absent.

    A role some cases of a dataset have and others lack is reported as missing for the latter.
    """
    wanted = list(dict.fromkeys([*expected, *(r for c in cases for r in c.roles)]))
    for case in cases:
        present = set(case.roles)
        case.missing = [r for r in dict.fromkeys([*case.missing, *wanted]) if r not in present]
