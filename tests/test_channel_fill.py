"""Missing channels filled by spherical splines (known answer), the fill limit, the flag in every
window, and BioSemi-style labels refused unless mapped."""

import numpy as np
import pytest
from live_models import make_model_file

from cmt_live.channel_fill import interpolation_matrix, max_fill
from cmt_live.channels import select_channels
from cmt_live.driver import Driver
from cmt_live.io.recording_source import RecordingSource
from cmt_live.io.xdf import XdfStream, write_xdf
from cmt_live.montage import template_position
from cmt_live.records import Flag
from cmt_live.settings import ContractError
from cmt_live.sinks import Sink
from features.constants import SEEDV_CHANNELS

#: What an EEGLAB file lacked (CB1/CB2 among them) plus an interior site.
MISSING = ["FC3", "T7", "PZ", "CB1", "CB2"]  # in model order


def smooth_field(names, n_times=50):
    """A smooth scalp field: low-order polynomials of the direction from the cap's centre,
    each with its own time course. Returns (n_times, n_channels)."""
    pos = np.array([template_position(c) for c in names])
    u = pos - pos.mean(axis=0)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    maps = np.stack([1 + 2 * u[:, 0] - u[:, 1] + 0.5 * u[:, 2], u[:, 0] * u[:, 1] + u[:, 2] ** 2])
    t = np.arange(n_times) / 200.0
    courses = np.stack([np.sin(2 * np.pi * 10 * t), np.cos(2 * np.pi * 3 * t)], axis=1)
    return 20e-6 * courses @ maps


def test_smooth_field_is_recovered_at_the_missing_sites():
    truth = smooth_field(SEEDV_CHANNELS)
    kept = [i for i, c in enumerate(SEEDV_CHANNELS) if c not in MISSING]
    stream_labels = [SEEDV_CHANNELS[i].lower() for i in kept][::-1]  # any order and case
    stream = truth[:, kept][:, ::-1]
    sel = select_channels(stream_labels, SEEDV_CHANNELS, fill_missing=5)
    assert sel.filled == tuple(MISSING)
    got = sel.take(stream)
    np.testing.assert_array_equal(got[:, kept], truth[:, kept])  # recorded ones untouched
    miss = [SEEDV_CHANNELS.index(c) for c in MISSING]
    err = np.abs(got[:, miss] - truth[:, miss]).max() / np.ptp(truth)
    assert err < 0.02, err  # measured 0.4% of the field's range
    # Without the fill the same stream is refused, and the message names the option.
    with pytest.raises(ValueError, match=r"lacks 5 of the model's 62.*--fill-missing N"):
        select_channels(stream_labels, SEEDV_CHANNELS)


def test_weights_are_those_of_mne_interpolate_bads_and_keep_a_constant():
    import mne

    present = [c for c in SEEDV_CHANNELS if c not in MISSING]
    w = interpolation_matrix(present, MISSING)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-6)  # a constant field stays constant
    # Against interpolate_bads on random data over real (non-substituted) sites.
    miss = ["FC3", "PZ", "T7"]
    pres = [c for c in present if c not in ("CB1", "CB2")]
    data = np.random.default_rng(0).standard_normal((len(pres) + 3, 20))
    info = mne.create_info(pres + miss, 200.0, "eeg")
    raw = mne.io.RawArray(data, info, verbose="error")
    raw.set_montage("standard_1005", match_case=False, verbose="error")
    raw.info["bads"] = miss
    raw.interpolate_bads(verbose="error")
    np.testing.assert_allclose(
        interpolation_matrix(pres, miss) @ data[: len(pres)], raw.get_data()[-3:], atol=1e-6
    )


def test_fill_limit_and_nan_handling():
    assert max_fill(62) == 12
    names = list(SEEDV_CHANNELS)
    with pytest.raises(ValueError, match=r"--fill-missing 13 exceeds the limit of 12"):
        select_channels(names[13:], SEEDV_CHANNELS, fill_missing=13)
    with pytest.raises(ValueError, match=r"lacks 6 .*--fill-missing 5 fills fewer"):
        select_channels(names[6:], SEEDV_CHANNELS, fill_missing=5)
    # The placeholder column of a filled channel never leaks (even NaN), a NaN in a recorded
    # channel reaches the filled ones (the window is then flagged non-finite).
    sel = select_channels([*names[1:], "junk"], SEEDV_CHANNELS, fill_missing=1)
    data = np.ones((3, 62))
    data[:, -1] = np.nan  # "junk" is the placeholder's source column
    np.testing.assert_allclose(sel.take(data)[:, 0], 1.0)
    data[1, 5] = np.nan
    assert np.isnan(sel.take(data)[1, 0]) and np.isfinite(sel.take(data)[[0, 2], 0]).all()


def test_biosemi_positional_labels_are_refused_unless_mapped():
    biosemi = [f"{b}{i}" for b in "ABCDEFGH" for i in range(1, 33)]  # 256 channels
    model = ["C1", "F3", "FZ"]
    with pytest.raises(ValueError, match=r"BioSemi-style cap.*C1, F3 match.*coincidence"):
        select_channels(biosemi, model, fill_missing=1)
    # Mapped explicitly (to themselves or to other sites), they are accepted.
    sel = select_channels(biosemi, model, "C1=C1,F3=F3,A1=FZ")
    assert sel.index.tolist() == [biosemi.index("C1"), biosemi.index("F3"), 0]
    # A 10-20 cap shares 14 such names (F1-F8, C1-C6) but is mostly 10-20: not refused.
    assert select_channels(list(SEEDV_CHANNELS), SEEDV_CHANNELS).index.tolist() == list(range(62))


def test_replay_of_a_cap_lacking_channels_flags_every_window(tmp_path):
    from models import load_runtime

    runtime = load_runtime(make_model_file(tmp_path / "m.pt", context_len=2), device="cpu")
    kept = [c for c in SEEDV_CHANNELS if c not in MISSING]
    n, sfreq = 2400, 200.0
    rng = np.random.default_rng(0)
    eeg = XdfStream("EEG", "EEG", "u", sfreq, "float32", kept, 10 + np.arange(n) / sfreq,
                    (20 * rng.standard_normal((n, len(kept)))).astype(np.float32),
                    ["microvolts"] * len(kept))  # fmt: skip
    path = write_xdf(tmp_path / "cap.xdf", [eeg])
    with pytest.raises(ContractError, match="--fill-missing"):
        RecordingSource(path, SEEDV_CHANNELS)
    source = RecordingSource(path, SEEDV_CHANNELS, fill_missing=5)
    assert source.info.filled_channels == tuple(MISSING)

    class Collect(Sink):
        def __init__(self):
            self.preds, self.events = [], []

        def on_prediction(self, p):
            self.preds.append(p)

        def on_event(self, kind, message, t):
            self.events.append((kind, message))

    sink = Collect()
    driver = Driver.for_source(runtime, source, sinks=[sink])
    driver.run()
    driver.close()
    assert len(sink.preds) >= 7
    assert all(Flag.EEG_INTERPOLATED in p.flags for p in sink.preds)
    fills = [m for k, m in sink.events if k == Flag.EEG_INTERPOLATED]
    assert len(fills) == 1 and "FC3, T7, PZ, CB1, CB2" in fills[0]
