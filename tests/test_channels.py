"""Channel matching, --channel-map parsing and EEG units."""

import json

import numpy as np
import pytest

from cmt_live.channels import match_channels, parse_channel_map, parse_unit
from features.constants import SEEDV_CHANNELS


def test_match_is_case_insensitive_reorders_and_ignores_extras():
    stream = ["Trigger", "cz", "Fp1", "FPZ", "O2"]
    idx = match_channels(stream, ["FP1", "FPZ", "CZ"])
    np.testing.assert_array_equal(idx, [2, 3, 1])
    data = np.arange(5)[None, :]
    np.testing.assert_array_equal(data[:, idx], [[2, 3, 1]])


def test_channel_map_renames_from_string_dict_and_json(tmp_path):
    stream = ["EEG 001", "EEG 002"]
    assert match_channels(stream, ["FP1", "FPZ"], "EEG 001=FP1, EEG 002=FPZ").tolist() == [0, 1]
    assert match_channels(stream, ["FPZ"], {"EEG 002": "FPZ"}).tolist() == [1]
    f = tmp_path / "map.json"
    f.write_text(json.dumps({"EEG 001": "FP1"}))
    assert parse_channel_map(str(f)) == {"EEG 001": "FP1"}
    assert match_channels(stream, ["FP1"], f).tolist() == [0]


def test_missing_channels_are_named_with_the_fix():
    stream = list(SEEDV_CHANNELS[:8])
    with pytest.raises(ValueError, match=r"lacks 54 of the model's 62 channels: F1, FZ, F2") as e:
        match_channels(stream, SEEDV_CHANNELS)
    assert "--channel-map" in str(e.value) and "FP1" in str(e.value)
    with pytest.raises(ValueError, match=r"entries \['eeg 9'\] match no stream channel"):
        match_channels(["a"], ["FP1"], "EEG 9=FP1")
    with pytest.raises(ValueError, match="1 without a label"):
        match_channels(["", "FPZ"], ["FP1", "FPZ"])


def test_ambiguous_and_malformed_maps_are_refused(tmp_path):
    with pytest.raises(ValueError, match=r"both called 'FP1'"):
        match_channels(["Fp1", "FP1"], ["FP1"])
    with pytest.raises(ValueError, match=r"entry 'A:B' must look like STREAM=MODEL"):
        parse_channel_map("A:B")
    with pytest.raises(ValueError, match="has an empty side"):
        parse_channel_map("A=")
    with pytest.raises(ValueError, match="mapped twice"):
        parse_channel_map("A=B,a=C")
    bad = tmp_path / "m.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        parse_channel_map(bad)
    with pytest.raises(ValueError, match="does not exist"):
        parse_channel_map(tmp_path / "none.json")


@pytest.mark.parametrize(
    ("unit", "scale"),
    [
        ("microvolts", 1e-6),
        ("uV", 1e-6),
        ("\u00b5V", 1e-6),
        ("\u03bcV", 1e-6),
        (" V ", 1.0),
        ("volts", 1.0),
        ("mV", 1e-3),
        ("nV", 1e-9),
        ("1e-12", 1e-12),  # a factor to volts
    ],
)
def test_parse_unit(unit, scale):
    assert parse_unit(unit) == scale


def test_parse_unit_undeclared_and_unknown():
    assert parse_unit("") is None and parse_unit(None) is None
    with pytest.raises(ValueError, match=r"Unknown EEG unit 'kV'.*--eeg-unit"):
        parse_unit("kV")
    for bad in ("0", "-1e-6", "nan"):
        with pytest.raises(ValueError, match="Unknown EEG unit"):
            parse_unit(bad)
