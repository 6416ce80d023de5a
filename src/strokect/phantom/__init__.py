"""Digital head phantom cohort: NCCT baseline/follow-up pairs, 4D CT perfusion, truth maps, DWI, masks.

Usage::

    from strokect.phantom import synth_case, PRESETS, write_cohort
    case = synth_case(seed=0, preset="tiny")     # PhantomCase, deterministic for (seed, preset)
    case = synth_case(seed=0, preset="tiny", anatomy="mni")   # brain from MNI152 (needs nilearn)
    write_cohort("out", n_cases=20, seed=0, preset="isles", layout="isles2018", workers=2)
    case = synth_case(seed=0, preset="isles", version=1)   # the head before the face (version 1)
    case = synth_case(seed=0, preset="realistic")           # vendor-like maps, DWI-like label

Phantom versions: 2 (default) has a face, orbits, sinuses and petrous bone
(`strokect.phantom.skullbase`), 1 is the earlier head, kept bit-identical for the shipped
weights' recipe; ``metadata["phantom_version"]``. With ``preset="realistic"`` the acute ``cbf``,
``cbv``, ``mtt``, ``tmax``, ``ct`` and ``core`` are vendor-like (`strokect.phantom.realism`; the
truth maps stay as ``truth_<map>`` and the geometric core as ``core_truth``). The follow-up
options of `synth_case` (``lesion_class``, ``infarct_volumes``, ``hemorrhage_share``,
``followup_slices``, ``scanner_variation``) are described in docs/phantom.md, and so are the
realistic pairs for ``fu2bl`` (``pairs="realistic"``: the baseline on its own grid and scanner,
``case.followup`` the 1-week follow-up, ``case.followup_24h`` a 24 h one; ``none_share``,
``primary_hemorrhage_share``).

`PhantomCase`
-------------
``case.acute`` (all on the CTP slab grid, identity direction, LPS):

- ``ct`` acute NCCT (int16 HU; core carries a 1-4 HU early ischemic hypodensity);
- ``ctp`` 4D CT perfusion (int16 HU, ``time_s`` from 0 s, first frames pre-bolus);
- ``cbf`` (mL/100 g/min), ``cbv`` (mL/100 g), ``mtt`` (s), ``tmax`` (s): float32 truth maps of the
  tissue, 0 where the voxel holds no perfused parenchyma (CSF, bone, air, pure vessel);
- ``dwi`` DWI-like b = 1000 image (float32, a.u.) with a hyperintense core;
- ``blood_fraction`` fraction of the voxel that is large-vessel blood (arteries + venous sinus);
- uint8 masks ``core``, ``penumbra``, ``brain`` (parenchyma), ``intracranial``;
- ``labels`` uint8: 0 outside/air, 1 GM (cortex, deep nuclei, cerebellum), 2 WM (and brainstem),
  3 CSF, 4 penumbra, 5 core, 6 vessel (artery or venous sinus), 7 skull and other extracranial tissue.

``case.followup`` (all on the whole-head NCCT grid; baseline and follow-up share that grid):

- ``ncct_baseline`` (int16 HU, acute head pose, no lesion), ``ncct_followup`` (int16 HU, head
  moved by the rigid transform, with lesion, other noise level/contrast/offset);
- uint8 follow-up masks ``infarct`` (includes any hemorrhagic transformation), ``hemorrhage``,
  ``intracranial``, ``brain``, ``csf``, ``labels`` (codes 0-3, 6, 7);
- uint8 baseline-pose masks ``baseline_intracranial``, ``baseline_brain``, ``baseline_infarct``
  (the follow-up infarct seen in the baseline pose: the ISLES 2024 lesion mask in NCCT space).

Masks are voxels at least half covered (thick-slice partial volume) by the structure, except the
anatomical masks and labels, which take the tissue at the voxel centre; a penumbra voxel also has
truth ``tmax > 6 s`` (partial-volume edge voxels with a lower CBF-weighted delay are left out). The follow-up ``infarct``
also leaves out voxels holding more than 1 % bone by volume.

Geometry conventions (see `strokect.phantom.geometry`)
------------------------------------------------------
World = LPS mm. The head frame has its origin at the intracranial-cavity centre, axes parallel to
LPS when straight, mid-sagittal plane ``x_head = 0``.

- ``metadata["head_pose"]["yaw_deg"]``: rotation about LPS +z (superior) of the acute pose;
  positive turns the nose towards the patient's left (+x). ``head_to_world_acute =
  T(head_centre_lps_mm) @ Rz(yaw)`` (4x4, head-frame mm -> world mm);
  ``head_to_world_followup = rigid @ head_to_world_acute``.
- ``metadata["head_pose"]["midsagittal_plane"][grid]`` for ``acute``, ``baseline`` (same pose)
  and ``followup``: ``point_lps_mm`` on the plane and unit ``normal_lps`` (pointing to patient left),
  i.e. the head frame's x axis in world coordinates; ``atan2(n_y, n_x)`` is the yaw.
- ``metadata["rigid"]["matrix_lps"]`` ``M`` maps a baseline world point to the world point where
  the same anatomy lies in the follow-up: ``p_followup = M @ [p_baseline, 1]``;
  ``M = T(c + t) Rz(gamma) Ry(beta) Rx(alpha) T(-c)`` with ``c = centre_lps_mm`` (head centre),
  ``angles_deg`` (alpha, beta, gamma about LPS x, y, z, each within +-3 deg) and
  ``translation_mm`` ``t`` (each within +-4 mm). ``inverse_matrix_lps`` maps follow-up -> baseline
  (ITK's fixed=follow-up, moving=baseline point transform).

Perfusion conventions (see `strokect.phantom.perfusion`)
-------------------------------------------------------
``ctp = static + rho/kH * CBF/6000 * (AIF conv exp(-t/MTT))(t - Tmax) + blood_fraction * blood
curve + noise``, with ``kH = 0.73``, ``rho = 1.04 g/mL``. Hence per voxel
``CBV = 100 kH / rho * AUC(enhancement) / AUC(AIF)`` (`perfusion.cbv_from_auc_ratio`),
``MTT = 60 CBV / CBF`` and ``Tmax`` = the delay of the tissue curve relative to the AIF (the peak of
``CBF R(t - Tmax)``). ``metadata["aif"]`` holds the gamma-variate parameters (``t0_s``, ``alpha``,
``beta_s``, ``peak_hu`` + recirculation), the noise-free ``curve_hu`` at ``time_s`` (HU above
``pre_contrast_hu``) and ``location_voxel_zyx``: a voxel of a vertical artery placed through that
voxel centre, fully inside it (``blood_fraction == 1``: its curve is the AIF plus noise).
``metadata["vof"]`` gives the venous output (superior sagittal sinus) location and model.

Determinism: every random draw comes from ``numpy.random.Generator(PCG64)`` streams spawned from
``SeedSequence(seed)``; maths in float64/float32 numpy, no thread-count dependence.
"""

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
