#!/usr/bin/env bash
# Run pytest with LSL confined to this machine.
#
# The loopback-only config (cmt_live/lsl/lsl_loopback.cfg) is always used. On top of that, when we
# may create a network namespace, the suite runs inside `unshare -n` with only `lo` up, so no
# LSL packet can reach another host even if a config were bypassed.
set -uo pipefail
py="${1:-.venv/bin/python}"
shift || true
here="$(cd "$(dirname "$0")" && pwd)"
export LSLAPICFG="$(cd "$here/../cmt_live/lsl" && pwd)/lsl_loopback.cfg"
export QT_QPA_PLATFORM=offscreen
# One math thread per process unless the caller says otherwise: the tests already run torch on
# one thread, and on 2 shared cores extra OpenMP/BLAS threads in the subprocesses (cmt-live,
# cmt-train, cmt-sim) only spin against each other and against any other job on the machine.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
export MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
if unshare -n true 2>/dev/null; then
  echo "run_pytest: running inside 'unshare -n' (loopback only)"
  unshare -n sh -c 'ip link set lo up && exec "$0" -m pytest "$@"' "$py" "$@"
else
  echo "run_pytest: cannot unshare the network namespace; relying on $LSLAPICFG alone"
  "$py" -m pytest "$@"
fi
rc=$?
# pytest exits 5 when no test ran: that must fail CI, and it does (non-zero).
exit $rc
