"""SEED-V preprocessing: causal streaming == causal batch in any chunking; pass/stop bands."""

import numpy as np
import pytest

from features import StreamingPreprocessor, preprocess_batch


@pytest.mark.parametrize("sfreq", [1000.0, 500.0, 250.0, 200.0])
def test_chunking_does_not_change_the_output(sfreq):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, int(5 * sfreq)))
    whole, fs_out = preprocess_batch(x, sfreq, causal=True)
    pre, parts, i = StreamingPreprocessor(3, sfreq), [], 0
    while i < x.shape[1]:
        n = int(rng.integers(1, 97))
        parts.append(pre.push(x[:, i : i + n]))
        i += n
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1e-12)
    assert fs_out == 200.0 and whole.shape[1] == 1000


@pytest.mark.parametrize("causal", [True, False])
def test_passband_and_stopbands(causal):
    sfreq = 1000.0
    t = np.arange(int(20 * sfreq)) / sfreq

    def amplitude(freq):
        y, _ = preprocess_batch(np.sin(2 * np.pi * freq * t)[None], sfreq, causal=causal)
        return y[0, 1000:-1000].std() * np.sqrt(2)

    assert amplitude(10.0) == pytest.approx(1.0, abs=0.01)
    assert amplitude(0.3) < 0.05  # below the 1 Hz high-pass
    assert amplitude(90.0) < 0.05  # above 75 Hz and near the new Nyquist


def test_errors():
    with pytest.raises(ValueError, match=r"sfreq_in=50.0 Hz is too low"):
        StreamingPreprocessor(2, 50.0)
    with pytest.raises(ValueError, match=r"chunk must be \(2, n_new\); got \(3, 10\)"):
        StreamingPreprocessor(2, 200.0).push(np.zeros((3, 10)))


@pytest.mark.parametrize("sfreq", [1000.0, 500.0])
def test_causal_resampler_is_minimum_phase_with_the_stated_delay(sfreq):
    """The live resampler keeps resample_poly's magnitude response but not its 50-ms delay:
    a 10 Hz sinusoid comes out (resampler alone) delayed by ``delay_s`` (~8 ms, within
    0.5 ms), at the linear-phase filter's gain."""
    from features import preprocess as pp

    pre = StreamingPreprocessor(1, sfreq)
    assert 0.005 < pre.delay_s < 0.012
    t = np.arange(int(10 * sfreq)) / sfreq
    y = pre._resample(np.sin(2 * np.pi * 10 * t)[None])[0]
    t_out = np.arange(y.size) / 200.0
    keep = t_out > 1.0
    # Fit y = a sin(w t) + b cos(w t): phase lag -> delay.
    w = 2 * np.pi * 10
    basis = np.column_stack([np.sin(w * t_out[keep]), np.cos(w * t_out[keep])])
    (a, b), *_ = np.linalg.lstsq(basis, y[keep], rcond=None)
    delay = -np.arctan2(b, a) / w
    assert abs(delay - pre.delay_s) < 5e-4, (delay, pre.delay_s)
    assert np.hypot(a, b) == pytest.approx(1.0, abs=3e-3)  # the Kaiser passband ripple
    up, down = pre.up, pre.down
    lin, minp = pp._linear_phase_fir(up, down), pp._resample_fir(up, down)
    f = np.linspace(0.5, 90, 200)
    _, h_lin = pp.signal.freqz(lin, worN=f, fs=sfreq * up)
    _, h_min = pp.signal.freqz(minp, worN=f, fs=sfreq * up)
    np.testing.assert_allclose(np.abs(h_min), np.abs(h_lin), rtol=1e-4)
