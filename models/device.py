"""The one device resolver of ``models/``: training and the runtime pick devices the same way."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch device that ``device`` names, checked.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device
        ``"auto"``: CUDA when available, else CPU.

    Returns
    -------
    torch.device
        Of type ``cpu`` or ``cuda``.

    Raises
    ------
    ValueError
        An unknown or unsupported device, or CUDA asked for where none is available.
    """
    invalid = f"device={device!r} is invalid; use 'auto', 'cpu', 'cuda' or 'cuda:N'."
    if isinstance(device, torch.device):
        dev = device
    elif device == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(invalid) from err
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(invalid)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was asked for but CUDA is not available here; use "
            "device='cpu' or 'auto'."
        )
    return dev
