"""A model file's integrity hash: written at export, checked at load.

Model files (TorchScript ``.pt``, ``torch.export`` ``.pt2``) are zip archives, and torch's reader
does not check the members' CRCs: one flipped byte in a weight loads and silently changes every
prediction. At export, :func:`archive_digest` hashes every member (program, weights, constants
and ``contract.json``: the program and its contract) and the digest is embedded as
``integrity.json``; at load, :func:`verify_model_file` reads every member through
:mod:`zipfile` (which checks each CRC) and compares the digest.

Files exported before the hash existed load with a warning (their members' CRCs are still
checked, so a flipped data byte is refused there too); re-export them to add the hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
import zlib
from pathlib import Path

logger = logging.getLogger("cmt_live")

INTEGRITY_FILE = "integrity.json"
#: Members left out of the digest: the digest itself, and torch's random per-save id.
_UNHASHED = ("extra/" + INTEGRITY_FILE, ".data/serialization_id")


def _name(info: zipfile.ZipInfo) -> str:
    # Members live under one folder named after the file at save time (``model.tmp/...``).
    return info.filename.split("/", 1)[-1]


def _refuse(path: Path, what: str) -> ValueError:
    return ValueError(
        f"{path} is corrupt ({what}); refusing to load it. Copy the model file again from "
        "where cmt-train wrote it, or re-export it."
    )


def archive_digest(path: str | Path) -> tuple[str, int]:
    """SHA-256 over every member's name and bytes, in name order (CRCs checked on the way).

    Returns
    -------
    digest : str
        Hex digest.
    n_members : int
        Members hashed.

    Raises
    ------
    ValueError
        The archive is unreadable or a member fails its CRC (naming the file and member).
    """
    path = Path(path)
    h = hashlib.sha256()
    n = 0
    try:
        with zipfile.ZipFile(path) as z:
            infos = sorted((i for i in z.infolist() if _name(i) not in _UNHASHED), key=_name)
            for info in infos:
                name = _name(info).encode()
                try:
                    data = z.read(info)
                except (zipfile.BadZipFile, zlib.error, EOFError) as err:
                    raise _refuse(path, f"member {_name(info)}: {err}") from err
                h.update(len(name).to_bytes(8, "little") + name)
                h.update(len(data).to_bytes(8, "little") + data)
                n += 1
    except (zipfile.BadZipFile, EOFError) as err:
        raise _refuse(path, f"not a readable zip archive: {err}") from err
    return h.hexdigest(), n


def integrity_record(path: str | Path) -> str:
    """The ``integrity.json`` text for the archive at ``path``."""
    digest, n = archive_digest(path)
    return json.dumps({"algorithm": "sha256", "digest": digest, "n_members": n})


def verify_model_file(path: str | Path) -> bool:
    """Check a model file against its embedded hash.

    Returns
    -------
    bool
        True when the hash matched; False for a file without a hash (exported before it
        existed: logged as a warning; its CRCs were checked).

    Raises
    ------
    ValueError
        One line naming the file: a member fails its CRC, the archive is unreadable, or the
        content differs from the recorded hash.
    """
    path = Path(path)
    digest, n = archive_digest(path)
    with zipfile.ZipFile(path) as z:
        names = [i for i in z.infolist() if _name(i) == "extra/" + INTEGRITY_FILE]
        if not names:
            logger.warning(
                "%s has no integrity hash (exported before cmt-live recorded one); loaded "
                "anyway. Re-export it to protect it against corruption.",
                path,
            )
            return False
        try:
            record = json.loads(z.read(names[0]))
            want, want_n = str(record["digest"]), int(record["n_members"])
        except (ValueError, KeyError, TypeError, zipfile.BadZipFile, zlib.error) as err:
            raise _refuse(path, f"its {INTEGRITY_FILE} is unreadable: {err}") from err
    if digest != want or n != want_n:
        raise _refuse(
            path,
            f"its content hash {digest[:12]}... over {n} members differs from the "
            f"{want[:12]}... over {want_n} recorded at export",
        )
    return True
