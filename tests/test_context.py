"""Context selection: frames spaced window_s apart, masks per modality."""

import numpy as np
import pytest

from cmt_live.context import ContextBuffer
from cmt_live.records import FeatureFrame


def frame(t, eeg_valid=True, eye_valid=True):
    # Feature values encode the frame time so the selection can be read back.
    return FeatureFrame(
        t_end=t,
        eeg=np.full(4, t),
        eye=np.full(2, -t),
        eeg_valid=eeg_valid,
        eye_valid=eye_valid,
    )


def test_context_picks_frames_window_s_apart_oldest_first():
    cb = ContextBuffer(3, 4.0, 4, 2)
    for t in np.arange(100.0, 121.0, 1.0):
        cb.push(frame(t))
    ctx = cb.context()
    np.testing.assert_array_equal(ctx.t_ends, [112.0, 116.0, 120.0])
    np.testing.assert_array_equal(ctx.eeg[:, 0], [112.0, 116.0, 120.0])
    np.testing.assert_array_equal(ctx.eye[:, 0], [-112.0, -116.0, -120.0])
    assert ctx.n_valid == 3 and ctx.eeg_mask.tolist() == [1, 1, 1]
    # An older reference time selects older frames.
    np.testing.assert_array_equal(cb.context(117.0).eeg[:, 0], [109.0, 113.0, 117.0])


def test_context_is_short_at_start_and_masks_holes():
    cb = ContextBuffer(4, 4.0, 4, 2)
    cb.push(frame(100.0))
    ctx = cb.context()
    assert ctx.eeg.shape == (1, 4) and ctx.n_valid == 1
    # 104 missing (an outage), 108 present: the hole is a masked row in the middle.
    cb.push(frame(108.0))
    ctx = cb.context()
    np.testing.assert_array_equal(ctx.t_ends, [100.0, 104.0, 108.0])
    assert ctx.eeg_mask.tolist() == [1, 0, 1]
    assert np.all(ctx.eeg[1] == 0)


def test_tolerance_accepts_jitter_and_rejects_far_frames():
    cb = ContextBuffer(2, 4.0, 4, 2, tolerance_s=0.3)
    cb.push(frame(100.2))
    cb.push(frame(104.0))
    assert cb.context().eeg_mask.tolist() == [1, 1]
    cb2 = ContextBuffer(2, 4.0, 4, 2, tolerance_s=0.3)
    cb2.push(frame(100.5))
    cb2.push(frame(104.0))
    assert cb2.context().eeg_mask.tolist() == [1]  # leading empty slot dropped


def test_newest_frame_without_eye_masks_eye_everywhere():
    cb = ContextBuffer(3, 4.0, 4, 2)
    for t in (100.0, 104.0):
        cb.push(frame(t))
    cb.push(frame(108.0, eye_valid=False))
    ctx = cb.context()
    assert ctx.eeg_mask.tolist() == [1, 1, 1]
    assert ctx.eye_mask.tolist() == [0, 0, 0] and not ctx.has_eye
    assert np.all(ctx.eye == 0)


def test_no_usable_frame_gives_empty_context():
    cb = ContextBuffer(3, 4.0, 4, 2)
    cb.push(frame(100.0, eeg_valid=False, eye_valid=False))
    ctx = cb.context()
    assert ctx.n_valid == 0 and ctx.eeg.shape == (0, 4)


def test_history_is_bounded():
    cb = ContextBuffer(2, 4.0, 4, 2)
    for t in np.arange(0.0, 1000.0, 1.0):
        cb.push(frame(t))
    assert len(cb) <= cb.history_s + 1


def test_errors_name_the_problem():
    cb = ContextBuffer(2, 4.0, 4, 2)
    cb.push(frame(10.0))
    with pytest.raises(ValueError, match="not after the previous frame"):
        cb.push(frame(9.0))
    with pytest.raises(ValueError, match=r"expects \(4,\) and \(2,\)"):
        cb.push(
            FeatureFrame(
                t_end=11.0, eeg=np.zeros(3), eye=np.zeros(2), eeg_valid=True, eye_valid=True
            )
        )
    with pytest.raises(ValueError, match="tolerance_s"):
        ContextBuffer(2, 4.0, 4, 2, tolerance_s=2.0)
    with pytest.raises(ValueError, match="context_len"):
        ContextBuffer(0, 4.0, 4, 2)
    with pytest.raises(ValueError, match="empty"):
        ContextBuffer(2, 4.0, 4, 2).context()
