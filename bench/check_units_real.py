"""Units and channels on real recordings: what the live checks say about public files.

Run from the repository root on files you fetched (never commit them), e.g. MNE's testing
data (``fetch github:mne-tools/mne-testing-data``, then ``git show HEAD:PATH > FILE``)::

    .venv/bin/python bench/check_units_real.py eximia/test_eximia.nxe EDF/test_reduced.edf \\
        BDF/test_generator_2.bdf EEGLAB/test_raw.set eyetrack/test_eyelink.asc

For each EEG file (read as ``cmt-live --replay`` reads it): the robust median channel RMS of
its first 4-s window after the SEED-V preprocessing (:func:`cmt_live.plausibility.eeg_problem`)
and how its labels match the SEED-V 62 channels with ``--fill-missing 12`` (filled, or why
refused). For an EyeLink ``.asc`` file (read as
``cmt-live --replay`` reads it): the 4-s windows that :class:`cmt_live.plausibility.UnitsCheck`
flags against a model's pupil statistics (``--model``, default the cached demo model, trained on
simulated pupils in mm), with the gaze in degrees at ``--px-per-deg`` (the file's RES line: ~46),
as pixels of a 1920 x 1080 screen, and with the pupils rescaled by ``--pupil-scale``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

from cmt_live.channels import select_channels
from cmt_live.io.eyelink import read_eyelink_asc
from cmt_live.io.gaze_geometry import ScreenGeometry
from cmt_live.plausibility import UnitsCheck, eeg_problem
from features.constants import SEEDV_CHANNELS
from features.preprocess import preprocess_batch


def eeg_file(path: Path) -> str:
    import mne

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = mne.io.read_raw(path, preload=True, verbose="error")
    raw.pick("eeg")
    sfreq = raw.info["sfreq"]
    x = raw.get_data()[:, : int(12 * sfreq)]  # volts, as MNE returns them
    y, _ = preprocess_batch(x, sfreq, sfreq_out=200.0, causal=True)
    verdict = eeg_problem(y[:, :800]) or "plausible"
    try:
        sel = select_channels(raw.ch_names, SEEDV_CHANNELS, fill_missing=12)
        chans = f"{len(sel.filled)} filled ({', '.join(sel.filled)})"
    except ValueError as err:
        chans = "refused: " + str(err)[:160]
    return (
        f"{path.name}: {len(raw.ch_names)} EEG ch at {sfreq:g} Hz, raw median std "
        f"{np.median(x.std(axis=1)):.3g} V\n  units: {verdict}\n  channels: {chans}"
    )


def asc_file(path: Path, norm, px_per_deg: float, pupil_scale: float) -> str:
    # Read as `cmt-live --replay FILE.asc` reads it (degrees from the screen centre).
    stream = read_eyelink_asc(path, geometry=ScreenGeometry(px_per_deg=(px_per_deg, px_per_deg)))
    x, y, p1, p2, valid = stream.data.astype(np.float64).T
    sfreq = 1.0 / np.median(np.diff(stream.timestamps))
    check, n = UnitsCheck(norm), int(4 * sfreq)
    ok = valid > 0
    out = [f"{path.name}: {len(x)} samples at {sfreq:.0f} Hz, pupil median {np.median(p1[ok]):g}"]
    # A tracker sending pixels (origin at the top-left corner of a 1920 x 1080 screen).
    x_px, y_px = x * px_per_deg + 960.0, y * px_per_deg + 540.0
    cases = (
        ("degrees", x, y, 1.0),
        ("pixels", x_px, y_px, 1.0),
        (f"degrees, --pupil-scale {pupil_scale:g}", x, y, pupil_scale),
    )
    for label, gx, gy, k in cases:
        g = np.column_stack([gx, gy, p1 * k, p2 * k, valid])
        msgs = [check.eye(g[i : i + n]) for i in range(0, len(g) - n + 1, n)]
        flagged = [m for m in msgs if m]
        out.append(f"  {label}: {len(flagged)} of {len(msgs)} windows flagged")
        if flagged:
            out.append(f"    {flagged[0]}")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--model", type=Path, help="model file (default: the cached demo model)")
    p.add_argument("--px-per-deg", type=float, default=46.0)
    p.add_argument("--pupil-scale", type=float, default=1e-3)
    args = p.parse_args()
    norm = None
    if any(f.suffix == ".asc" for f in args.files):
        from cmt_live.sim.demo import ensure_demo_model
        from models import load_runtime

        norm = load_runtime(args.model or ensure_demo_model(), device="cpu").contract.norm
    for f in args.files:
        if f.suffix == ".asc":
            print(asc_file(f, norm, args.px_per_deg, args.pupil_scale))
        else:
            print(eeg_file(f))
    return 0


if __name__ == "__main__":
    sys.exit(main())
