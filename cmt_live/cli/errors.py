"""What the command-line tools share about errors: one line to the user, never a traceback.

- :data:`USER_ERRORS`: the exceptions that carry a message for the user (bad files, bad values);
  each tool catches them around its work and prints ``tool: message`` on one line.
- :func:`one_line`: an exception's message folded onto one line.
- :func:`interruptible`: runs a blocking start-up step (a stream lookup that sits in liblsl for
  its whole timeout, where Python cannot deliver Ctrl-C) in a helper thread, so Ctrl-C stops
  the tool at once.
"""

from __future__ import annotations

import pickle
import threading
import zipfile

#: Exceptions whose message is for the user: a bad file or value, with the fix.
USER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    OSError,  # FileNotFoundError, PermissionError, a full disk
    pickle.UnpicklingError,  # models.safe_pickle.UnsafePickleError: a crafted data file
    zipfile.BadZipFile,
    EOFError,
)

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line (OSError: ``strerror: filename``)."""
    if isinstance(err, OSError) and err.strerror:
        text = f"{err.strerror}: {err.filename}" if err.filename else err.strerror
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())


def interruptible(fn, *args, poll_s: float = 0.05, **kwargs):
    """``fn(*args, **kwargs)`` in a daemon thread; the calling (main) thread waits in short
    joins, so Ctrl-C raises ``KeyboardInterrupt`` here at once even while ``fn`` blocks inside
    C code. The abandoned call ends with the process.

    Returns
    -------
    What ``fn`` returned; what it raised is raised again here.
    """
    box: dict = {}

    def work():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as err:  # handed to the caller
            box["error"] = err

    t = threading.Thread(target=work, name=f"cmt-startup-{getattr(fn, '__name__', 'step')}")
    t.daemon = True
    t.start()
    while t.is_alive():
        t.join(poll_s)
    if "error" in box:
        raise box["error"]
    return box.get("value")
