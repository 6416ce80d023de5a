"""Experiment (not part of the package): model-based deconvolution by a per-voxel least-squares
fit of a delayed one-compartment residue, compared with oSVD. Tried for issue 4's accuracy
targets and not adopted; the reasons are what ``main`` prints (see docs/perfusion.md,
"Fourth round").

Run: ``.venv/bin/python benchmarks/perfusion_model_fit.py`` (about 20 s on 2 cores).

Model (indicator dilution with an exponential residue and a tracer delay, Østergaard et al., MRM
1996, Eq. 1-3 with ``R(t) = exp(-t / MTT)``; the parametric alternative to SVD reviewed by
Fieselmann et al., Int J Biomed Imaging 2011)::

    C_t(t) = F * (C_a ⊗ R)(t - d),   R(t) = exp(-t / tau),  t >= 0

with flow ``F`` (1/s), transit time ``tau`` (s) and arrival delay ``d`` (s) relative to the AIF.
The residue's maximum is ``F`` at ``t = d``, so ``F`` gives CBF and ``d`` gives Tmax directly,
without the attenuation that truncation imposes on the maximum of an SVD residue.

Fit: for Gaussian noise the maximum-likelihood ``(F, tau, d)`` minimise ``||c - F m(tau, d)||^2``.
For fixed ``(tau, d)`` the best ``F`` is ``<c, m> / ||m||^2`` and the residual is
``||c||^2 - <c, m>^2 / ||m||^2``, so the search over a grid of ``(tau, d)`` ("atoms" ``m``) is one
matrix product of the curves with the normalised atoms followed by an arg-max of the projection
(``F >= 0``); the maximum is refined by a parabola through its neighbours in ``d`` and in
``log tau``. The atoms are exact convolutions of the piecewise-linear AIF (linear between its
samples) with ``exp(-t / tau)``, on a grid ``oversample`` times finer than the frames, sampled at
the frame times after the shift ``d``.

The exponential residue is the method's assumption; ``main`` measures what it does to
box-shaped and gamma-shaped residues and to mixed (smoothed) curves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from strokect.errors import InputError

#: transit times (s) and delays of the atom grid
DEFAULT_TAU_RANGE_S = (0.5, 40.0)
DEFAULT_N_TAU = 40
DEFAULT_DELAY_RANGE_S = (-2.0, 20.0)
#: target step (s) of the delay grid and of the fine convolution grid: ``dt / round(dt / step)``
DELAY_STEP_S = 0.5
_CHUNK = 8192


@dataclass(frozen=True)
class ModelFit:
    """Per-voxel fitted parameters (float32, ``(M,)``).

    ``flow`` F in 1/s (before unit and hematocrit/density scaling, like `ResidueSummary.peak`),
    ``tau_s`` the transit time, ``delay_s`` the arrival delay after the AIF (Tmax), ``r2`` the
    fraction of the curve's energy explained (0 where the best projection is not positive).
    """

    flow: np.ndarray
    tau_s: np.ndarray
    delay_s: np.ndarray
    r2: np.ndarray


def exponential_convolution(a: np.ndarray, h_s: float, tau_s: float) -> np.ndarray:
    """``(a ⊗ exp(-t / tau))`` at the samples of ``a`` (step ``h_s``), ``a`` linear between
    samples and 0 before the first one.

    Exact for a piecewise-linear ``a``: over one step ``y(t + h) = E y(t) + w0 a(t) + w1 a(t + h)``
    with ``E = exp(-h / tau)``, ``w1 = tau - tau^2 (1 - E) / h`` and ``w0 = tau (1 - E) - w1``
    (integral of the linear segment against the decaying exponential).
    """
    e = np.exp(-h_s / tau_s)
    w1 = tau_s - tau_s * tau_s * (1.0 - e) / h_s
    w0 = tau_s * (1.0 - e) - w1
    return signal.lfilter([w1, w0], [1.0, -e], np.asarray(a, np.float64))


def residue_atoms(
    aif: np.ndarray,
    dt_s: float,
    taus_s: np.ndarray,
    delays_s: np.ndarray,
    *,
    oversample: int,
) -> np.ndarray:
    """Model curves ``(C_a ⊗ exp(-t / tau))(t_i - d)`` at the frame times ``t_i = i dt``.

    Returns ``(n_tau, n_delay, N)`` float64; ``delays_s`` must be multiples of
    ``dt_s / oversample``. Past the last AIF sample the AIF is taken as constant (its last
    value), which matters only for negative delays.
    """
    aif = np.asarray(aif, np.float64).reshape(-1)
    n = aif.size
    h = dt_s / oversample
    steps = np.rint(np.asarray(delays_s) / h).astype(int)
    if not np.allclose(steps * h, delays_s, atol=1e-6):
        raise InputError("delays must be multiples of dt / oversample")
    lead = max(0, int(-steps.min()))  # fine samples needed after the last frame
    fine_t = np.arange((n - 1) * oversample + 1 + lead) * h
    fine_a = np.interp(fine_t, np.arange(n) * dt_s, aif)
    frames = np.arange(n) * oversample
    out = np.zeros((len(taus_s), steps.size, n))
    for i, tau in enumerate(taus_s):
        y = exponential_convolution(fine_a, h, float(tau))
        for j, s in enumerate(steps):
            pos = frames - s
            ok = pos >= 0
            out[i, j, ok] = y[pos[ok]]
    return out


def fit_exponential_residue(
    tissue: np.ndarray,
    aif: np.ndarray,
    dt_s: float,
    *,
    tau_range_s: tuple[float, float] = DEFAULT_TAU_RANGE_S,
    n_tau: int = DEFAULT_N_TAU,
    delay_range_s: tuple[float, float] = DEFAULT_DELAY_RANGE_S,
    oversample: int | None = None,
) -> ModelFit:
    """Least-squares ``(F, tau, d)`` of ``(N, M)`` tissue curves (module docstring).

    ``oversample``: fine steps per frame of the atoms (delay grid step ``dt / oversample``);
    default ``max(2, round(dt / DELAY_STEP_S))``. Tau is searched on ``n_tau`` log-spaced values
    in ``tau_range_s``, the delay within ``delay_range_s``; both refined by a parabola.
    """
    tissue = np.asarray(tissue, np.float32)
    n, m = tissue.shape
    aif = np.asarray(aif, np.float64).reshape(-1)
    if aif.size != n:
        raise InputError(f"AIF has {aif.size} samples but tissue curves have {n}")
    if not np.any(aif > 0):
        raise InputError("AIF has no positive enhancement; cannot deconvolve")
    lo, hi = tau_range_s
    if not (0 < lo < hi) or n_tau < 3:
        raise InputError(f"tau range must be 0 < low < high with >= 3 values; got {tau_range_s}")
    taus = np.geomspace(lo, hi, n_tau)
    if oversample is None:
        oversample = max(2, round(dt_s / DELAY_STEP_S))
    h = dt_s / oversample
    d_lo, d_hi = (np.rint(np.asarray(delay_range_s) / h)).astype(int)
    delays = np.arange(d_lo, d_hi + 1) * h
    atoms = residue_atoms(aif, dt_s, taus, delays, oversample=oversample)
    norms = np.linalg.norm(atoms, axis=2)
    safe = np.where(norms > 0, norms, 1.0)
    unit = (atoms / safe[..., None]).reshape(-1, n)
    unit = np.ascontiguousarray(unit.T, np.float32)  # (N, K)
    nt, nd = norms.shape
    flow, tau_out, delay_out, r2 = (np.zeros(m, np.float32) for _ in range(4))
    log_taus = np.log(taus)
    for start in range(0, m, _CHUNK):
        sl = slice(start, min(start + _CHUNK, m))
        c = np.ascontiguousarray(tissue[:, sl].T)  # (Mc, N)
        proj = (c @ unit).reshape(-1, nt, nd)  # (Mc, n_tau, n_delay)
        flat = proj.reshape(proj.shape[0], -1).argmax(axis=1)
        it, jd = np.unravel_index(flat, (nt, nd))
        rows = np.arange(proj.shape[0])
        best = proj[rows, it, jd]
        dj = _parabola(
            proj[rows, it, np.maximum(jd - 1, 0)],
            best,
            proj[rows, it, np.minimum(jd + 1, nd - 1)],
            (jd > 0) & (jd < nd - 1),
        )
        di = _parabola(
            proj[rows, np.maximum(it - 1, 0), jd],
            best,
            proj[rows, np.minimum(it + 1, nt - 1), jd],
            (it > 0) & (it < nt - 1),
        )
        pos = best > 0
        energy = np.einsum("ij,ij->i", c, c, dtype=np.float64)
        # amplitude at the refined (tau, d): linear along the central differences of the
        # grid amplitudes <c, m> / ||m||^2 (F and tau trade off for fast transits)
        amp = proj / norms[None]
        ip, im = np.minimum(it + 1, nt - 1), np.maximum(it - 1, 0)
        jp, jm = np.minimum(jd + 1, nd - 1), np.maximum(jd - 1, 0)
        f = amp[rows, it, jd]
        f = f + di * (amp[rows, ip, jd] - amp[rows, im, jd]) / 2
        f = f + dj * (amp[rows, it, jp] - amp[rows, it, jm]) / 2
        flow[sl] = np.where(pos, np.maximum(f, 0.0), 0.0)
        step = log_taus[1] - log_taus[0]
        tau_out[sl] = np.where(pos, np.exp(log_taus[it] + di * step), 0.0)
        delay_out[sl] = np.where(pos, delays[jd] + dj * h, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2[sl] = np.where(pos & (energy > 0), best.astype(np.float64) ** 2 / energy, 0.0)
    return ModelFit(flow=flow, tau_s=tau_out, delay_s=delay_out, r2=r2)


def _parabola(left, mid, right, ok):
    """Offset (in grid steps, within +-0.5) of the vertex of the parabola through 3 samples."""
    denom = left - 2.0 * mid + right
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.where(ok & (denom < 0), 0.5 * (left - right) / denom, 0.0)
    return np.clip(off, -0.5, 0.5)


# ----------------------------------------------------------------------------- measurements


def _residue_shapes() -> None:
    """Noise-free curves of exponential, gamma-shaped and box residues: fitted / true CBF."""
    from strokect.perfusion.deconvolution import deconvolve
    from strokect.perfusion.maps import HEMATOCRIT_FACTOR, TISSUE_DENSITY_G_PER_ML
    from strokect.perfusion.synthetic import FINE_DT_S, gamma_variate

    to_cbf = HEMATOCRIT_FACTOR / TISSUE_DENSITY_G_PER_ML * 6000
    shapes = {
        "exponential": lambda t, m: np.exp(-t / m),
        "gamma-shaped (k=2)": lambda t, m: (1 + 2 * t / m) * np.exp(-2 * t / m),
        "box (plug flow)": lambda t, m: (t < m).astype(float),
    }
    print(
        "| frames | residue | MTT s | delay s | model CBF / true | model delay s | bcSVD CBF / true |"
    )
    print("|---|---|---|---|---|---|---|")
    for dt in (1.5, 2.0):
        t = np.arange(0, 60, dt)
        aif = gamma_variate(t)
        fine = np.arange(0.0, t[-1] + 60.0, FINE_DT_S)
        for name, shape in shapes.items():
            for mtt in (4.0, 10.0):
                for delay in (0.0, 2.2):
                    conv = np.convolve(gamma_variate(fine), shape(fine, mtt))[: fine.size]
                    ct = conv * FINE_DT_S * 30.0 / to_cbf
                    c = np.interp(t - delay, fine, ct, left=0.0)[:, None]
                    fit = fit_exponential_residue(c, aif, dt)
                    svd = deconvolve(c, aif, dt, method="bcsvd").peak[0] * to_cbf / 30.0
                    print(
                        f"| {dt} | {name} | {mtt} | {delay} | {fit.flow[0] * to_cbf / 30:.2f} "
                        f"| {fit.delay_s[0]:.2f} | {fit.r2[0]:.4f} | {svd:.2f} |"
                    )


def _with_model(fn):
    """`_maps_from_curves` whose CBF and Tmax come from the model fit (CBV, MTT = CBV/CBF)."""

    def wrapped(tissue, aif, grid, cfg, *, noise_sd=None):
        out = fn(tissue, aif, grid, cfg, noise_sd=noise_sd)
        fit = fit_exponential_residue(tissue, aif, float(grid[1] - grid[0]))
        factor = cfg.hematocrit_factor / cfg.tissue_density_g_per_ml
        cbf = fit.flow.astype(np.float64) * factor * 6000.0
        out["cbf"] = cbf.astype(np.float32)
        out["tmax"] = np.maximum(fit.delay_s, 0.0).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["mtt"] = np.where(cbf > 1e-3, out["cbv"] / cbf * 60.0, 0.0).astype(np.float32)
        return out

    return wrapped


def _class_table(label, cases, classes, model: bool, **cfg) -> None:
    from strokect.perfusion import PerfusionConfig, compute_perfusion_maps
    from strokect.perfusion import maps as maps_module

    original = maps_module._maps_from_curves
    if model:
        maps_module._maps_from_curves = _with_model(original)
    try:
        ratio = {c: [] for c in classes}
        dtmax = {c: [] for c in classes}
        for vol, labels, truth in cases:
            res = compute_perfusion_maps(vol, config=PerfusionConfig(**cfg))
            tm = res.tissue_mask.array > 0
            for name, lab in classes.items():
                sel = (labels == lab) & tm
                ratio[name].append(res.maps["cbf"].array[sel] / np.maximum(truth["cbf"][sel], 1e-6))
                dtmax[name].append(res.maps["tmax"].array[sel] - truth["tmax"][sel])
    finally:
        maps_module._maps_from_curves = original
    cells = []
    for name in classes:
        r, d = np.concatenate(ratio[name]), np.concatenate(dtmax[name])
        cells.append(
            f"{np.median(np.abs(r - 1)) * 100:.1f} ({np.median(r):.2f}), {np.mean(np.abs(d)):.2f}"
        )
    print(
        f"| {label} | {'model fit' if model else 'oSVD'} | {cfg or 'default'} | "
        + " | ".join(cells)
        + " |",
        flush=True,
    )


def main() -> None:
    from strokect.perfusion.synthetic import synth_ctp
    from strokect.phantom import synth_case

    _residue_shapes()
    print("\nCBF MdAPE % (median found/true), Tmax MAE s; automatic AIF")
    head = ["normal GM", "normal WM", "penumbra", "core"]
    print("| data | deconvolution | options | " + " | ".join(head) + " |")
    print("|---|---|---|" + "---|" * len(head))
    vol, truth = synth_ctp((2, 48, 48), time_s=np.arange(40) * 1.5, noise_hu=1.0, seed=0)
    synth = [(vol, truth["labels"], truth)]
    classes = {"normal GM": 1, "normal WM": 2, "penumbra": 3, "core": 4}
    for model in (False, True):
        for sigma in (4.0, 0.0):
            _class_table("synth_ctp 2x48x48, 1 HU", synth, classes, model, smoothing_sigma_mm=sigma)
    classes = {"normal GM": 1, "normal WM": 2, "penumbra": 4, "core": 5}
    for preset, seeds in (("isles", (0, 1)), ("tiny", (0, 1, 2))):
        cases = []
        for seed in seeds:
            a = synth_case(seed, preset=preset).acute
            cases.append((a["ctp"], a["labels"].array, {k: a[k].array for k in ("cbf", "tmax")}))
        for model in (False, True):
            _class_table(f"phantom `{preset}` {list(seeds)}", cases, classes, model)


if __name__ == "__main__":
    main()
