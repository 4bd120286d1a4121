"""More known answers for features/: an independent float64 re-implementation of the seedv
formula, other rates and window lengths, filter-state handling in StreamingDE, the LDS
variance reduction predicted from the steady-state Kalman gain, and preprocessing at every
supported input rate.
"""

import numpy as np
import pytest

from features import (
    BANDS,
    FeatureSpec,
    StreamingDE,
    StreamingPreprocessor,
    apply_lds,
    de_features,
    preprocess_batch,
)
from features.de import POWER_FLOOR_UV2
from features.lds import INITIAL_STATE_COV, OBSERVATION_COV, TRANSITION_COV


def _reference_seedv(eeg_v, sfreq, window_s):
    """The documented seedv formula, one channel and window at a time, float64 throughout."""
    n_times = round(window_s * sfreq)
    n = np.arange(1, n_times + 1)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / (n_times + 1))  # MATLAB hanning(L)
    freqs = np.arange(n_times // 2 + 1) * sfreq / n_times
    n_ch, total = eeg_v.shape
    out = np.empty((total // n_times, len(BANDS), n_ch))  # band-major
    for w in range(total // n_times):
        for ch in range(n_ch):
            x_uv = eeg_v[ch, w * n_times : (w + 1) * n_times] * 1e6
            power = np.abs(np.fft.fft(x_uv * hann))[: n_times // 2 + 1] ** 2
            for b, (_, lo, hi) in enumerate(BANDS):
                psd = power[(freqs >= lo) & (freqs < hi)].mean()
                out[w, b, ch] = np.log2(100 * max(psd, POWER_FLOOR_UV2))
    return out.reshape(out.shape[0], -1)


@pytest.mark.parametrize(("sfreq", "window_s"), [(200.0, 4.0), (250.0, 2.0), (128.0, 1.0)])
def test_seedv_matches_a_plain_float64_reference(sfreq, window_s):
    rng = np.random.default_rng(10)
    n_times = int(sfreq * window_s)
    # Pink-ish EEG: white noise plus a 10 Hz rhythm, 20 µV scale, 3 windows and a remainder.
    t = np.arange(3 * n_times + 7) / sfreq
    x = (rng.standard_normal((5, t.size)) + 3 * np.sin(2 * np.pi * 10 * t)) * 20e-6
    got = de_features(x, sfreq, window_s=window_s)
    # float32 FFT inside: DE agrees to ~1e-5 bit, far below any feature's spread.
    np.testing.assert_allclose(got, _reference_seedv(x, sfreq, window_s), rtol=0, atol=1e-4)


@pytest.mark.parametrize("method", ["seedv", "gaussian"])
@pytest.mark.parametrize(("sfreq", "window_s"), [(1000.0, 4.0), (500.0, 2.0), (128.0, 1.0)])
def test_alpha_sinusoid_peaks_in_alpha_at_other_rates(method, sfreq, window_s):
    t = np.arange(int(4 * window_s * sfreq)) / sfreq
    phases = np.linspace(0, np.pi, 6)[:, None]  # every channel, any phase
    x = 30e-6 * np.sin(2 * np.pi * 11.0 * t + phases)
    de = de_features(x, sfreq, window_s=window_s, method=method)
    assert de.shape == (4, 6 * 5)
    assert (de.reshape(4, 5, 6).argmax(axis=1) == 2).all()


def test_seedv_white_noise_level_scales_with_the_window_energy():
    # E|X_k|^2 = sigma^2 * sum(w^2) for every bin: at 500 Hz the 4-s window has 2000 samples,
    # sum(w^2) = 3/8 * L (+ the MATLAB end-point term), so DE rises by log2(2000/800) bits.
    rng = np.random.default_rng(11)
    sigma_v = 4e-6
    levels = []
    for sfreq in (200.0, 500.0):
        x = rng.standard_normal((6, int(4 * sfreq) * 100)) * sigma_v
        levels.append(np.log2(np.mean(2.0 ** de_features(x, sfreq))))
    n = np.arange(1, 2001)
    sum_w2 = np.sum((0.5 - 0.5 * np.cos(2 * np.pi * n / 2001)) ** 2)
    assert levels[1] == pytest.approx(np.log2(100 * (sigma_v * 1e6) ** 2 * sum_w2), abs=0.05)
    assert levels[1] - levels[0] == pytest.approx(np.log2(2000 / 800), abs=0.05)


def test_gaussian_scaling_is_exactly_ln2_nats_per_doubling():
    x = np.random.default_rng(12).standard_normal((3, 800 * 3)) * 1e-5
    diff = de_features(2 * x, 200.0, method="gaussian") - de_features(x, 200.0, method="gaussian")
    np.testing.assert_allclose(diff, np.log(2), atol=1e-9)


def test_dtype_layout_and_remainder_do_not_change_the_numbers():
    x = np.random.default_rng(13).standard_normal((4, 800 * 2)) * 1e-5
    ref = de_features(x, 200.0)
    padded = np.concatenate([x, np.ones((4, 799))], axis=1)  # partial window is dropped
    np.testing.assert_array_equal(de_features(padded, 200.0), ref)
    np.testing.assert_allclose(de_features(x.astype(np.float32), 200.0), ref, atol=1e-4)
    fortran = np.asfortranarray(x)
    np.testing.assert_allclose(de_features(fortran, 200.0), ref, atol=1e-9)


def test_gaussian_flat_channel_sits_at_the_floor():
    x = np.random.default_rng(14).standard_normal((3, 800)) * 1e-5
    x[0] = 5e-6  # DC only: the band-passes remove it entirely
    de = de_features(x, 200.0, method="gaussian").reshape(5, 3)
    assert np.isfinite(de).all()
    floor = 0.5 * np.log(2 * np.pi * np.e * POWER_FLOOR_UV2)
    # Started at the DC steady state, the filters output ~0; the floor caps the log.
    assert (de[:, 0] < floor + 1.0).all() and (de[:, 1:] > floor + 10).all()


def test_streaming_gaussian_restarts_cleanly_after_a_nonfinite_window():
    rng = np.random.default_rng(15)
    x = rng.standard_normal((4, 800 * 6)) * 1e-5
    x[2, 800 * 3 + 5] = np.nan  # window 3 is bad
    stream = StreamingDE(FeatureSpec(ch_names=("A", "B", "C", "D"), de_method="gaussian"))
    out = [stream.transform(x[:, i * 800 : (i + 1) * 800]) for i in range(6)]
    assert [valid for _, valid, _ in out] == [True, True, True, False, True, True]
    assert out[3][2] == {"nonfinite"}
    # The filter state restarts at window 4, exactly like a batch run that starts there.
    after = np.array([values for values, _, _ in out[4:]])
    np.testing.assert_allclose(
        after, de_features(x[:, 800 * 4 :], 200.0, method="gaussian"), atol=1e-9
    )
    before = np.array([values for values, _, _ in out[:3]])
    np.testing.assert_allclose(
        before, de_features(x[:, : 800 * 3], 200.0, method="gaussian"), atol=1e-9
    )


def test_more_errors_name_the_value_and_the_fix():
    x = np.zeros((4, 800))
    with pytest.raises(ValueError, match=r"order='ch-major' is invalid; use one of"):
        de_features(x, 200.0, order="ch-major")
    with pytest.raises(ValueError, match=r"window_s \* sfreq = 502.5 is not a whole number"):
        de_features(np.zeros((4, 1200)), 201.0, window_s=2.5)
    with pytest.raises(ValueError, match=r"sfreq=80.0 Hz is too low"):
        StreamingDE(FeatureSpec(sfreq=80.0))
    with pytest.raises(ValueError, match=r"eeg must be numeric"):
        de_features(np.full((4, 800), "a"), 200.0)


def _steady_state_gain():
    # Riccati fixed point of the random walk: P = P (1 - K) + Q with K = P / (P + R).
    q, r = TRANSITION_COV, OBSERVATION_COV
    p_pred = (q + np.sqrt(q * q + 4 * q * r)) / 2
    return p_pred / (p_pred + r)


def test_lds_noise_reduction_matches_the_steady_state_prediction():
    # Constant + unit white noise. In steady state the causal filter is an EWMA
    # m_t = a m_{t-1} + K y_t (a = 1 - K), whose output noise variance is R K / (2 - K); the
    # RTS smoother adds the mirrored backward pass s_t = K m_t + a s_{t+1} (its gain
    # J = P / (P + Q) equals a), so |H|^2 = K^4 / |1 - a e^{iw}|^4 and the variance is
    # R K^4 (1 + a^2) / (1 - a^2)^3.
    k = _steady_state_gain()
    a = 1 - k
    predicted_causal = OBSERVATION_COV * k / (2 - k)
    predicted_rts = OBSERVATION_COV * k**4 * (1 + a * a) / (1 - a * a) ** 3
    rng = np.random.default_rng(16)
    level = 3.0
    y = level + rng.standard_normal((4000, 40)) * np.sqrt(OBSERVATION_COV)
    mid = slice(400, -400)  # transients decay as a^t, a^400 ~ 1e-6
    causal = ((apply_lds(y, mode="causal")[mid] - level) ** 2).mean()
    rts = ((apply_lds(y, mode="rts")[mid] - level) ** 2).mean()
    # 40 series x ~3200 windows / ~60-window correlation time -> ~2000 effective samples:
    # the estimates scatter by ~3 %; 12 % is four standard errors.
    assert causal == pytest.approx(predicted_causal, rel=0.12)
    assert rts == pytest.approx(predicted_rts, rel=0.12)
    # With Q/R = 1e-3: K = 0.031, raw noise variance shrinks ~63x causally and ~126x with RTS
    # (ratio (1 + a^2) / (1 + a)^2, i.e. the backward pass halves it again).
    assert 1 / predicted_rts == pytest.approx(126.5, rel=0.01)
    assert predicted_rts / predicted_causal == pytest.approx(0.5, abs=0.001)


def test_rts_on_two_windows_by_hand():
    y = np.array([[1.0, -2.0], [3.0, 0.5]])
    mu = y.mean(axis=0)  # the lab's initial state mean: the series mean
    q, r, p0 = TRANSITION_COV, OBSERVATION_COV, INITIAL_STATE_COV
    k0 = p0 / (p0 + r)
    m0 = mu + k0 * (y[0] - mu)
    p0f = (1 - k0) * p0
    k1 = (p0f + q) / (p0f + q + r)
    m1 = m0 + k1 * (y[1] - m0)
    j0 = p0f / (p0f + q)
    s0 = m0 + j0 * (m1 - m0)
    np.testing.assert_allclose(apply_lds(y, mode="rts"), np.stack([s0, m1]), rtol=1e-12)


@pytest.mark.parametrize("sfreq", [1000.0, 500.0, 250.0, 200.0])
def test_streaming_preprocessor_gain_at_every_rate(sfreq):
    # Chunked causal streaming: 10 Hz passes at unit gain, 0.3 Hz and 90 Hz are removed
    # (90 Hz is above the 75 Hz edge; at 200 and 250 Hz input it aliases, at 200 Hz output
    # it is above Nyquist, so the anti-alias filter of the resampler must catch it).
    t = np.arange(int(30 * sfreq)) / sfreq
    freqs = [10.0, 0.3] + ([90.0] if sfreq / 2 > 90 else [])
    x = np.stack([np.sin(2 * np.pi * f * t) for f in freqs])
    pre = StreamingPreprocessor(len(freqs), sfreq)
    rng = np.random.default_rng(17)
    parts, i = [], 0
    while i < t.size:
        n = int(rng.integers(1, 300))
        parts.append(pre.push(x[:, i : i + n]))
        i += n
    y = np.concatenate(parts, axis=1)
    assert y.shape == (len(freqs), 30 * 200)
    amplitude = y[:, 2000:].std(axis=1) * np.sqrt(2)  # after 10 s of settling
    assert amplitude[0] == pytest.approx(1.0, abs=0.02)
    assert (amplitude[1:] < 0.05).all()


def test_batch_zero_phase_keeps_the_timing_of_a_sinusoid():
    # Zero-phase resample + band-pass: a 10 Hz sine at 1000 Hz comes out at 200 Hz in phase
    # with the same sine sampled at 200 Hz (no delay), unlike the causal form.
    t_in = np.arange(20000) / 1000.0
    y, sfreq_out = preprocess_batch(np.sin(2 * np.pi * 10 * t_in)[None], 1000.0)
    t_out = np.arange(y.shape[1]) / sfreq_out
    ref = np.sin(2 * np.pi * 10 * t_out)
    mid = slice(1000, -1000)
    assert sfreq_out == 200.0 and y.shape == (1, 4000)
    np.testing.assert_allclose(y[0, mid], ref[mid], atol=0.02)


def test_gaussian_works_at_the_lowest_rate():
    # 100 Hz: gamma (31-50 Hz) ends at Nyquist, so its filter is a high-pass.
    t = np.arange(800) / 100.0
    x = np.stack([np.sin(2 * np.pi * f * t) for f in (10.0, 40.0)]) * 20e-6
    de = de_features(x, 100.0, method="gaussian").reshape(-1, 5, 2)
    assert np.isfinite(de).all()
    assert (de[:, :, 0].argmax(axis=1) == 2).all() and (de[:, :, 1].argmax(axis=1) == 4).all()


def test_absurd_amplitudes_ask_for_volts():
    # 1e14 "volts" (a unit mix-up gone wild) overflows the float32 power: say so, in units.
    with pytest.raises(ValueError, match=r"overflows float32 power.*must be in volts"):
        de_features(np.full((2, 800), 1e14), 200.0)
