"""Finding LSL streams by identity, and deciding whether a stream found later may replace one.

- :func:`resolve_stream` finds exactly one stream by name (and type, source_id, hostname when
  given), lists the candidates when several match and the visible streams when none does, and
  refuses string streams (LSL.md §1: persist and pin the full identity; refuse to guess).
- :func:`find_again` re-resolves a running input's stream by its pinned identity after an outage
  and says what came back (:func:`classify`, pure: the outcomes of
  :mod:`cmt_live.lsl.recovery`).
- :class:`StreamFormat`, :func:`format_change` and :func:`description_change` are pure: the
  checks that a stream which came back (a restarted source) has the channel count, nominal
  rate, channel format, labels and units the session was set up for (inlets reopen on a
  restarted source themselves, see :mod:`cmt_live.lsl.recovery`).

``pylsl`` is imported inside the functions (see :mod:`cmt_live.lsl.config`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import recovery as rec

KINDS = ("eeg", "gaze")

#: Command-line option prefix used in "how to pin it" hints, per stream kind.
OPTION_PREFIX = {"eeg": "--eeg", "gaze": "--eye"}

#: liblsl channel format codes (``pylsl.cf_*``) -> names, for messages.
FORMAT_NAMES = {
    0: "undefined",
    1: "float32",
    2: "double64",
    3: "string",
    4: "int32",
    5: "int16",
    6: "int8",
    7: "int64",
}


class StreamResolutionError(RuntimeError):
    """No stream, several streams, or an unusable stream matched a query."""


# --- queries -------------------------------------------------------------------------------
def xpath_literal(value: str, field_name: str) -> str:
    """Quote ``value`` for an LSL (XPath 1.0) query; XPath has no escape for quotes.

    Raises
    ------
    ValueError
        ``value`` holds both quote characters.
    """
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ValueError(
        f"The stream {field_name} {value!r} contains both quote characters; LSL queries cannot "
        "express it. Rename the stream or pin it by another field."
    )


def predicate(name: str, stype: str | None, source_id: str | None, hostname: str | None) -> str:
    """The LSL query ``name='..' and type='..' and ...`` for the fields that are given."""
    parts = [f"name={xpath_literal(name, 'name')}"]
    for field_name, value in (("type", stype), ("source_id", source_id), ("hostname", hostname)):
        if value:
            parts.append(f"{field_name}={xpath_literal(value, field_name)}")
    return " and ".join(parts)


def identity_predicate(meta) -> str:
    """The query that finds a stream again after an outage.

    Parameters
    ----------
    meta : cmt_live.records.StreamMeta
        The identity pinned when the stream was first opened.

    Returns
    -------
    str
        Name and type, plus the source_id; the hostname instead when there is no source_id
        (a restarted source keeps its source_id but may move host; without one, the host is
        what tells two same-named sources apart).
    """
    sid = meta.source_id or None
    return predicate(meta.name, meta.type, sid, None if sid else meta.hostname)


def describe(info) -> str:
    """One line naming a ``pylsl.StreamInfo``: identity, channels, rate and creation time."""
    return (
        f"name={info.name()!r} type={info.type()!r} source_id={info.source_id()!r} "
        f"hostname={info.hostname()!r} channels={info.channel_count()} "
        f"rate={info.nominal_srate():g} Hz created_at={info.created_at():.3f}"
    )


# --- first resolution ----------------------------------------------------------------------
def resolve_stream(
    name: str,
    *,
    stype: str | None = None,
    source_id: str | None = None,
    hostname: str | None = None,
    timeout: float = 5.0,
    kind: str = "eeg",
    duplicate_wait_s: float = 1.0,
    **kwargs,
):
    """Find exactly one LSL stream by name and, optionally, type, source_id and hostname.

    Parameters
    ----------
    name : str
        Stream name (exact, case-sensitive as LSL compares it).
    stype : str | None
        Stream type (``type=`` is accepted as an alias).
    source_id, hostname : str | None
        Pin a stream among several of the same name.
    timeout : float
        Seconds to wait for a first match.
    kind : ``"eeg"`` | ``"gaze"``
        What the stream is for: EEG must be numeric; the hints name ``--eeg-...`` or
        ``--eye-...`` options accordingly.
    duplicate_wait_s : float
        After the first match, how long to keep listening for other matches, seconds
        (resolution returns as soon as one stream answers, so duplicates could otherwise go
        unnoticed). Measured on loopback: a second outlet answered only in liblsl's second
        query wave, ~0.5 s in; 0.5 s was not enough, 1.0 s was. A unique stream thus costs
        this long.

    Returns
    -------
    info : pylsl.StreamInfo

    Raises
    ------
    StreamResolutionError
        Nothing matched within ``timeout`` (the visible streams are listed); several streams
        matched (each candidate is listed with how to pin one); the stream is a string stream.
    """
    import pylsl

    stype = _type_alias(stype, kwargs)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}.")
    if not name:
        raise ValueError("A stream name is required (e.g. --eeg-stream EEG).")
    if not timeout > 0:
        raise ValueError(f"timeout must be > 0 s; got {timeout}.")
    pred = predicate(name, stype, source_id, hostname)
    found = pylsl.resolve_bypred(pred, 1, timeout)
    if found and duplicate_wait_s > 0:
        more = pylsl.resolve_bypred(pred, len(found) + 1, duplicate_wait_s)
        by_uid = {i.uid(): i for i in found}
        for i in more:
            by_uid.setdefault(i.uid(), i)
        found = list(by_uid.values())
    opt = OPTION_PREFIX[kind]
    if not found:
        visible = pylsl.resolve_streams(wait_time=1.0)
        listing = "\n".join(f"  - {describe(i)}" for i in visible) or "  (none)"
        wanted = pred.replace(" and ", ", ")
        raise StreamResolutionError(
            f"No LSL stream matched {wanted} within {timeout:g} s. Visible streams:\n{listing}\n"
            f"Check the name ({opt}-stream), that the source is running, and that both sides "
            "use the same LSL network config (LSLAPICFG)."
        )
    if len(found) > 1:
        found.sort(key=lambda i: i.created_at())
        listing = "\n".join(
            f"  - source_id={i.source_id()!r} hostname={i.hostname()!r} "
            f"created_at={i.created_at():.3f} type={i.type()!r} channels={i.channel_count()}"
            for i in found
        )
        ids = {i.source_id() for i in found}
        hosts = {i.hostname() for i in found}
        # Suggest only a pin that tells these candidates apart (a hint that refuses again is
        # no hint): same source_id and host leave nothing a query can select on.
        if len(ids) == len(found) and all(ids):
            how = f"Pin one with {opt}-source-id SOURCE_ID"
        elif len(hosts) == len(found):
            how = f"They do not differ by source_id; pin one with {opt}-hostname HOST"
        else:
            how = (
                "They share source_id and hostname, so no query can tell them apart: stop the "
                "extra sources, or give each source its own source_id and pin one with "
                f"{opt}-source-id"
            )
        raise StreamResolutionError(
            f"{len(found)} LSL streams match {pred.replace(' and ', ', ')}; refusing to guess "
            f"which one to use. Candidates:\n{listing}\n{how}."
        )
    info = found[0]
    check_format(info, kind)
    return info


def _type_alias(stype, kwargs):
    if kwargs:
        extra = set(kwargs) - {"type"}
        if extra:
            raise TypeError(f"resolve_stream() got unexpected keyword arguments {sorted(extra)}")
        t = kwargs["type"]
        if stype is not None and t is not None and t != stype:
            raise ValueError(f"stype={stype!r} and type={t!r} disagree; give one of them.")
        stype = stype if stype is not None else t
    return stype


def check_format(info, kind: str) -> None:
    """Refuse a string stream as EEG or gaze (probably a marker stream picked by mistake).

    Raises
    ------
    StreamResolutionError
        ``info`` carries strings; the message names how to pick the numeric stream.
    """
    import pylsl

    if info.channel_format() == pylsl.cf_string:
        what = "EEG" if kind == "eeg" else "gaze"
        raise StreamResolutionError(
            f"Stream {info.name()!r} (type {info.type()!r}, source_id {info.source_id()!r}) "
            f"carries strings, but {what} must be numeric. It is probably a marker stream; pick "
            f"the numeric {what} stream by name ({OPTION_PREFIX[kind]}-stream) or type."
        )


# --- may a stream found later replace the one we set up for? -------------------------------
@dataclass(frozen=True)
class StreamFormat:
    """What the consumers of a stream were built for.

    Parameters
    ----------
    n_channels : int
        Channel count.
    sfreq : float
        Nominal rate, Hz (0 for irregular streams).
    channel_format : int
        liblsl channel format code (``pylsl.cf_float32`` ...; see :data:`FORMAT_NAMES`).
    """

    n_channels: int
    sfreq: float
    channel_format: int

    @classmethod
    def of(cls, info) -> StreamFormat:
        """The format a ``pylsl.StreamInfo`` declares."""
        return cls(int(info.channel_count()), float(info.nominal_srate()), info.channel_format())


def format_change(old: StreamFormat, new: StreamFormat) -> str | None:
    """Why a stream that came back may not replace the one this session was set up for.

    The channel matching, unit scaling, filters, windows and the model were all built for
    ``old``; data in another layout, at another rate or in another sample format would be
    mislabelled or mistimed, silently. Nothing is converted: the user restarts with a match.

    Parameters
    ----------
    old : StreamFormat
        What the session was set up for (the stream as first opened).
    new : StreamFormat
        What the stream found now declares.

    Returns
    -------
    str | None
        ``None`` if ``new`` may replace ``old``; else one message naming each value that
        changed (old and new) and the fix. It does not name the stream: the inlet's log line
        and event carry the name already.
    """
    changes = []
    if new.n_channels != old.n_channels:
        changes.append(f"{new.n_channels} channels instead of {old.n_channels}")
    # Same source, same number: a relative tolerance only guards against a float printed and
    # parsed again on the way through the stream description.
    if not math.isclose(new.sfreq, old.sfreq, rel_tol=1e-9, abs_tol=0.0):
        changes.append(f"a nominal rate of {new.sfreq:g} Hz instead of {old.sfreq:g} Hz")
    if new.channel_format != old.channel_format:
        changes.append(
            f"channel format {FORMAT_NAMES.get(new.channel_format, new.channel_format)} "
            f"instead of {FORMAT_NAMES.get(old.channel_format, old.channel_format)}"
        )
    if not changes:
        return None
    return (
        f"came back with {' and '.join(changes)}; its data are refused, "
        "because the channel matching, filters, windows and model were set up for the old "
        "stream. Restart the source as it was, or restart cmt-live with a model and stream "
        "that match."
    )


def description_change(old, new, old_scale, new_scale) -> str | None:
    """Why a stream that came back may not replace the old one, judged on its full description.

    :func:`format_change` judges what a resolution returns; the labels and units come only
    with the full description of a fresh inlet, and are checked here.

    Parameters
    ----------
    old, new : cmt_live.records.StreamMeta
        The stream as first opened, and as it came back.
    old_scale, new_scale : array of shape (n_channels,)
        Factors from the declared (or overridden) units to volts (ones for gaze).

    Returns
    -------
    str | None
        None if ``new`` may replace ``old``; else one message naming what changed and the fix.
    """
    changes = []
    if tuple(new.ch_names) != tuple(old.ch_names):
        diff = [(a, b) for a, b in zip(old.ch_names, new.ch_names) if a != b][:3]
        listed = ", ".join(f"{a!r} -> {b!r}" for a, b in diff)
        changes.append(f"other channel labels ({listed})")
    elif not np.allclose(np.asarray(new_scale), np.asarray(old_scale), rtol=1e-9, atol=0.0):
        changes.append(f"other units ({list(new.units)[:3]} instead of {list(old.units)[:3]})")
    if not changes:
        return None
    return (
        f"came back with {' and '.join(changes)}; its data are refused, because the channel "
        "matching and unit scaling were set up for the old stream. Restart the source as it "
        "was, or restart cmt-live with a model and stream that match."
    )


# --- finding a running input's stream again ------------------------------------------------
#: Timeout of a re-resolution while the stream is away, seconds. Measured on this stack
#: (loopback, liblsl 1.18, the EEG and gaze inputs resolving at once in the monitor): 0.3 s
#: found a running stream 0/20 times, 0.5 s 13/20, 1.0 s 20/20 (issue 11); a found stream
#: answered 0.50-0.51 s into the call in every instrumented restart here. A call returns as
#: soon as a stream answers, so the full timeout is spent only while nothing matches.
RERESOLVE_TIMEOUT_S = 1.0


def find_again(meta, *, uid: str, fmt: StreamFormat):
    """Re-resolve a stream by its pinned identity and say what came back.

    Parameters
    ----------
    meta : cmt_live.records.StreamMeta
        The identity pinned when the stream was first opened (:func:`identity_predicate`).
    uid : str
        The uid of the outlet the input's inlet was opened on.
    fmt : StreamFormat
        What the session was set up for.

    Returns
    -------
    outcome, detail, info
        As :func:`classify`.

    Notes
    -----
    The lookup returns as soon as one stream answers, so two sources with the same identity
    that come back together are seen as ``AMBIGUOUS`` only when both answer within that
    moment; otherwise the first is taken as ``NEW``. A second, confirming lookup would cost
    another ~0.5 s of every recovery (the target is data again <= 2 s); pin a ``source_id``
    that differs between such sources instead.
    """
    import pylsl

    pred = identity_predicate(meta)
    found = pylsl.resolve_bypred(pred, 1, RERESOLVE_TIMEOUT_S)
    return classify(found, uid=uid, fmt=fmt, pred=pred)


def classify(found, *, uid: str, fmt: StreamFormat, pred: str):
    """Sort the streams a re-resolution found into one :mod:`~cmt_live.lsl.recovery` outcome.

    Parameters
    ----------
    found : sequence of pylsl.StreamInfo
        What the query ``pred`` returned (anything with the ``StreamInfo`` getters).
    uid : str
        The uid of the outlet the input reads (or last read).
    fmt : StreamFormat
        What the session was set up for.
    pred : str
        The query, for messages.

    Returns
    -------
    outcome : str
        :data:`~cmt_live.lsl.recovery.NOTHING`, ``SAME`` (``uid`` is among them: that
        outlet is still there), ``AMBIGUOUS`` (several new outlets), ``REFUSED`` (one new
        outlet, :func:`format_change` refuses it) or ``NEW`` (one new, compatible outlet).
    detail : str
        The reason (``AMBIGUOUS``, ``REFUSED``) or the outlet's description (``NEW``,
        ``SAME``).
    info : pylsl.StreamInfo | None
        The outlet for ``NEW`` and ``SAME`` (a lost inlet reopens on it), else None.
    """
    if not found:
        return rec.NOTHING, "", None
    same = [i for i in found if i.uid() == uid]
    if same:
        return rec.SAME, describe(same[0]), same[0]
    if len(found) > 1:
        return rec.AMBIGUOUS, f"{len(found)} new streams match {pred}; cannot pick one", None
    info = found[0]
    problem = format_change(fmt, StreamFormat.of(info))
    if problem is not None:
        return rec.REFUSED, f"{problem} (new stream: {describe(info)})", None
    return rec.NEW, describe(info), info
