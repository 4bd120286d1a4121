"""Differential entropy: known answers, batch == streaming, column orders, errors."""

import numpy as np
import pytest

from features import BANDS, SEEDV_CHANNELS, FeatureSpec, StreamingDE, de_features
from features.de import POWER_FLOOR_UV2

SFREQ = 200.0
N = 800  # one 4-s window


def _sine(freq, n_windows=3, n_ch=4, amp_v=20e-6, sfreq=SFREQ):
    t = np.arange(int(n_windows * 4 * sfreq)) / sfreq
    return np.tile(amp_v * np.sin(2 * np.pi * freq * t), (n_ch, 1))


@pytest.mark.parametrize("method", ["seedv", "gaussian"])
@pytest.mark.parametrize(("freq", "band"), [(2.5, 0), (6.0, 1), (10.0, 2), (20.0, 3), (40.0, 4)])
def test_sinusoid_lands_in_its_band(method, freq, band):
    de = de_features(_sine(freq), SFREQ, method=method).reshape(-1, 5, 4)
    assert (de.argmax(axis=1) == band).all(), BANDS[band]


def test_seedv_white_noise_has_the_predicted_de():
    # E|X_k|^2 of Hann-windowed white noise = sigma^2 * sum(w^2) for every bin, so
    # DE = log2(100 * sigma_uV^2 * sum(w^2)) in every band.
    rng = np.random.default_rng(0)
    sigma_v = 5e-6
    x = rng.standard_normal((8, N * 200)) * sigma_v
    n = np.arange(1, N + 1)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * n / (N + 1))
    expected = np.log2(100 * (sigma_v * 1e6) ** 2 * np.sum(w**2))
    de = de_features(x, SFREQ)
    # Average DE over windows equals log2 of the mean power minus Jensen's gap; compare the
    # log2 of the mean power instead, which is unbiased.
    mean_power = np.log2(np.mean(2.0**de, axis=0))
    # Per column: 200 windows x 12..68 correlated bins -> sampling spread ~0.05 bit.
    np.testing.assert_allclose(mean_power, expected, atol=0.15)
    assert abs(mean_power.mean() - expected) < 0.02


def test_gaussian_white_noise_has_the_predicted_de():
    # Band-passed white noise keeps a fraction (f_hi - f_lo) / (sfreq / 2) of its variance.
    rng = np.random.default_rng(1)
    sigma_uv = 3.0
    x = rng.standard_normal((4, N * 50)) * sigma_uv * 1e-6
    de = de_features(x, SFREQ, method="gaussian").reshape(-1, 5, 4)
    for b, (_, lo, hi) in enumerate(BANDS):
        var = sigma_uv**2 * (hi - lo) / (SFREQ / 2)
        expected = 0.5 * np.log(2 * np.pi * np.e * var)
        # Butterworth skirts widen the band a little: within 0.1 nats (~10% in variance).
        assert abs(de[:, b].mean() - expected) < 0.1, (b, de[:, b].mean(), expected)


def test_volts_to_microvolts_scaling_is_exact_in_bits():
    x = np.random.default_rng(2).standard_normal((3, N * 2)) * 1e-5
    np.testing.assert_allclose(de_features(2 * x, SFREQ) - de_features(x, SFREQ), 2.0, atol=1e-4)


def test_column_orders_are_permutations():
    x = np.random.default_rng(3).standard_normal((62, N * 2)) * 1e-5
    band_major = de_features(x, SFREQ, order="band-major")
    chan_major = de_features(x, SFREQ, order="channel-major")
    assert band_major.shape == (2, 310)
    # col = band * 62 + ch  vs  col = ch * 5 + band
    np.testing.assert_array_equal(band_major[:, 2 * 62 + 7], chan_major[:, 7 * 5 + 2])
    np.testing.assert_array_equal(
        band_major.reshape(2, 5, 62).transpose(0, 2, 1).reshape(2, -1), chan_major
    )


def test_flat_channel_is_finite_and_flagged():
    x = np.random.default_rng(4).standard_normal((4, N)) * 1e-5
    x[1] = 0.0  # a dead channel: zero power, floored
    de = de_features(x, SFREQ)
    assert np.isfinite(de).all()
    np.testing.assert_allclose(de.reshape(5, 4)[:, 1], np.log2(100 * POWER_FLOOR_UV2))
    x[1] = 3e-6  # a flat channel with a DC offset is flagged too
    spec = FeatureSpec(ch_names=("A", "B", "C", "D"))
    values, valid, flags = StreamingDE(spec).transform(x)
    assert valid and flags == {"flat"}
    assert np.isfinite(values).all()


@pytest.mark.parametrize("method", ["seedv", "gaussian"])
def test_streaming_equals_batch(method):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((62, N * 6)) * 1e-5
    spec = FeatureSpec(de_method=method)
    stream = StreamingDE(spec)
    got = np.array([stream.transform(x[:, i * N : (i + 1) * N])[0] for i in range(6)])
    # The FFT runs in float32 (features.de): pocketfft may vectorise a block of 6 windows and a
    # single window differently, so the two agree to float32 precision (~1e-7 relative), not
    # bit for bit (1.7e-7 measured with scipy 1.17.1). Live, fast and LSL replay all use the
    # streaming form, which is what the golden replay test compares bit for bit.
    np.testing.assert_allclose(got, de_features(x, SFREQ, method=method), rtol=1e-7, atol=0)


def test_streaming_marks_nonfinite_windows_invalid():
    x = np.random.default_rng(6).standard_normal((62, N)) * 1e-5
    x[3, 100:110] = np.nan
    values, valid, flags = StreamingDE(FeatureSpec()).transform(x)
    assert not valid and flags == {"nonfinite"} and np.isnan(values).all()


def test_channel_count_is_free_in_batch():
    assert de_features(_sine(10, n_ch=len(SEEDV_CHANNELS)), SFREQ).shape == (3, 310)
    assert de_features(_sine(10, n_ch=3, sfreq=1000.0), 1000.0).shape == (3, 15)


def test_errors_name_the_value_and_the_fix():
    x = np.zeros((4, N))
    with pytest.raises(ValueError, match=r"eeg must be 2-D \(n_channels, n_times\); got shape"):
        de_features(np.zeros(N), SFREQ)
    with pytest.raises(ValueError, match=r"sfreq=90.0 Hz is too low for the 50 Hz .* >= 100 Hz"):
        de_features(x, 90.0)
    with pytest.raises(ValueError, match=r"window_s=0.5 is too short"):
        de_features(x, SFREQ, window_s=0.5)
    with pytest.raises(ValueError, match=r"shorter than one 4.0 s window.*transposed"):
        de_features(np.zeros((N - 1, 62)).T.T, SFREQ)
    with pytest.raises(ValueError, match=r"method='psd' is invalid"):
        de_features(x, SFREQ, method="psd")
    bad = np.random.default_rng(0).standard_normal((4, N))
    bad[2, 17] = np.inf
    with pytest.raises(ValueError, match=r"first in channel 2 at sample 17 \(window 0\)"):
        de_features(bad, SFREQ)
    with pytest.raises(ValueError, match=r"expected \(62, 800\)"):
        StreamingDE(FeatureSpec()).transform(np.zeros((62, 799)))
