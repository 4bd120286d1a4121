"""Where fold tasks run: in this process, in a pool of N persistent local worker processes
(``--jobs N``: each loads the data once and runs fold after fold), or as plain Ray tasks on a
local or remote Ray cluster (``--ray [ADDRESS]``).

Every runner calls :func:`~models.train.task.run_fold_task` and hands each outcome to the
driver's ``on_result`` as it arrives (the driver writes the fold's files, so an interrupted run
resumes from what arrived). A task that fails is retried up to ``retries`` times, and each
retry is logged with the error; bad input (``ValueError``) is not retried, it would fail again.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .task import FoldTask, run_fold_task

logger = logging.getLogger("cmt_live")

#: ``on_result(task, outcome)``: called in the driver for each finished task.
OnResult = Callable[[FoldTask, dict], None]


@dataclass(frozen=True)
class RunnerSpec:
    """How to run the fold tasks.

    Attributes
    ----------
    kind : {"local", "jobs", "ray"}
    jobs : int
        Worker processes of ``jobs``.
    ray_address : str | None
        ``None``: start a local Ray on this machine; ``"auto"`` or ``"HOST:PORT"``: join a
        running cluster.
    cpus_per_fold : float | None
        CPU cores reserved per fold (Ray) and torch threads of the fold (all runners); default
        cores // ``jobs`` for ``jobs``, 1 for ``ray``, torch's choice for ``local``.
    gpus_per_fold : float
        GPUs reserved per fold (Ray); a fold with GPUs trains on CUDA.
    retries : int
        Extra attempts of a failed fold.
    task_fn : callable | None
        ``task_fn(task, ctx) -> outcome`` run instead of :func:`execute` (it must call it):
        instrumentation or fault injection; picklable for ``jobs`` and ``ray``.
    """

    kind: str = "local"
    jobs: int = 1
    ray_address: str | None = None
    cpus_per_fold: float | None = None
    gpus_per_fold: float = 0.0
    retries: int = 2
    task_fn: Callable | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("local", "jobs", "ray"):
            raise ValueError(f"runner kind={self.kind!r} is invalid; use local, jobs or ray.")
        if self.jobs < 1:
            raise ValueError(f"--jobs {self.jobs} is invalid; use >= 1 worker process.")
        if self.retries < 0:
            raise ValueError(f"--retries {self.retries} is invalid; use >= 0.")
        if self.cpus_per_fold is not None and self.cpus_per_fold <= 0:
            raise ValueError(f"--cpus-per-fold {self.cpus_per_fold} is invalid; use > 0.")
        if self.gpus_per_fold < 0:
            raise ValueError(f"--gpus-per-fold {self.gpus_per_fold} is invalid; use >= 0.")

    def describe(self) -> dict:
        """The settings worth recording in ``metrics.json``."""
        keys = ("kind", "jobs", "ray_address", "cpus_per_fold", "gpus_per_fold", "retries")
        return {k: getattr(self, k) for k in keys}

    @property
    def threads(self) -> int | None:
        """torch threads of a fold: ``cpus_per_fold``, else this machine's cores shared by the
        ``jobs`` workers (N workers never run more threads than cores), 1 per Ray task (Ray
        runs as many tasks as it has CPUs), torch's choice in a local run."""
        if self.cpus_per_fold is not None:
            return max(1, int(self.cpus_per_fold))
        if self.kind == "jobs":
            return max(1, usable_cores() // self.jobs)
        return None if self.kind == "local" else 1


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class TaskContext:
    """What every task of a run shares (shipped once per worker, not once per task)."""

    trials: Sequence
    model_config: object
    cfg: object
    device: str
    threads: int | None
    progress: bool
    log_level: int
    baseline: bool = True


def execute(task: FoldTask, ctx: TaskContext) -> dict:
    """Run one task with the run's shared context (what every runner calls); the result
    records where it ran (``worker``: host, pid)."""
    outcome = run_fold_task(
        task,
        ctx.trials,
        ctx.model_config,
        ctx.cfg,
        device=ctx.device,
        threads=ctx.threads,
        progress=ctx.progress,
        baseline=ctx.baseline,
    )
    outcome["result"]["worker"] = {"host": socket.gethostname(), "pid": os.getpid()}
    return outcome


def _worker_logging(level: int) -> None:
    # A worker process has no handler on the package logger; its lines go to its stderr, which
    # the local pool inherits and Ray forwards to the driver.
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(level)


class FoldFailed(RuntimeError):
    """A fold failed on every attempt."""


def _give_up_or_retry(task: FoldTask, err: BaseException, attempts: dict, retries: int) -> None:
    """Log a retry of ``task`` after ``err``, or raise :class:`FoldFailed` when out of tries."""
    cause = getattr(err, "cause", None) or err  # a Ray task error carries the worker's error
    if isinstance(cause, ValueError):
        raise cause
    attempts[task.name] = attempts.get(task.name, 0) + 1
    n = attempts[task.name]
    if n > retries:
        raise FoldFailed(
            f"{task.name} failed {n} times (last error: {type(cause).__name__}: {cause}); "
            f"raise --retries (now {retries}) or fix the cause, then rerun to resume."
        ) from err
    logger.warning(
        "%s failed (%s: %s); retry %d of %d.",
        task.name,
        type(cause).__name__,
        str(cause).splitlines()[0] if str(cause) else "",
        n,
        retries,
    )


def run_tasks(
    tasks: Sequence[FoldTask], ctx: TaskContext, spec: RunnerSpec, on_result: OnResult
) -> dict[str, int]:
    """Run ``tasks`` with ``spec``; call ``on_result`` in this process as each one finishes.

    Returns
    -------
    dict
        Retries spent per task name (tasks that needed none are absent).
    """
    attempts: dict[str, int] = {}
    if not tasks:
        return attempts
    fn = spec.task_fn or execute
    if spec.kind == "ray":
        _run_ray(tasks, ctx, spec, fn, on_result, attempts)
    elif spec.kind == "jobs" and spec.jobs > 1:
        _run_pool(tasks, ctx, spec, fn, on_result, attempts)
    else:
        for task in tasks:
            while True:
                try:
                    outcome = fn(task, ctx)
                except (KeyboardInterrupt, FoldFailed):
                    raise
                except Exception as err:
                    _give_up_or_retry(task, err, attempts, spec.retries)
                    continue
                on_result(task, outcome)
                break
    return attempts


# --- local worker processes -------------------------------------------------------------------


def _worker_main(ctx: TaskContext, fn, conn) -> None:
    """Body of one persistent worker process: it received the run's context (the data) once,
    at its start; then it runs each task the driver sends and answers ``("ok", outcome)`` or
    ``("error", exc)``, until the driver sends ``None`` or closes the pipe."""
    _worker_logging(ctx.log_level)
    while True:
        try:
            task = pickle.loads(conn.recv_bytes())
        except EOFError:
            return
        if task is None:
            return
        try:
            payload = ("ok", fn(task, ctx))
        except BaseException as err:  # sent to the driver, which decides on a retry
            payload = ("error", err)
        # Plain pickle bytes: torch's multiprocessing pickler would share tensors through file
        # descriptors that die with this process.
        try:
            data = pickle.dumps(payload)
        except Exception as err:  # an exception that does not pickle: send its text
            data = pickle.dumps(("error", RuntimeError(f"{type(payload[1]).__name__}: {err}")))
        conn.send_bytes(data)


def _run_pool(tasks, ctx, spec, fn, on_result, attempts) -> None:
    """A pool of ``spec.jobs`` persistent worker processes, each started once with the run's
    data, running one task at a time: a worker that dies takes only its own task with it (the
    task is retried, a fresh worker replaces the dead one), and the others carry on."""
    import multiprocessing as mp
    from collections import deque
    from multiprocessing.connection import wait

    # spawn, not fork: torch's thread pools do not survive a fork.
    mp_ctx = mp.get_context("spawn")
    todo = deque(tasks)
    idle: list = []  # (process, driver's end of its pipe)
    busy: dict = {}  # driver's end -> (process, task)

    def start_worker() -> None:
        here, there = mp_ctx.Pipe(duplex=True)
        proc = mp_ctx.Process(target=_worker_main, args=(ctx, fn, there), daemon=True)
        proc.start()
        there.close()  # the worker holds the only other end: EOF here when it dies
        idle.append((proc, here))

    try:
        while todo or busy:
            # Start workers up to N (at the start, and to replace one that died).
            while todo and len(idle) + len(busy) < spec.jobs:
                start_worker()
            while todo and idle:
                proc, conn = idle.pop()
                task = todo.popleft()
                conn.send_bytes(pickle.dumps(task))
                busy[conn] = (proc, task)
            for conn in wait(list(busy)):
                proc, task = busy.pop(conn)
                try:
                    status, payload = pickle.loads(conn.recv_bytes())
                    idle.append((proc, conn))
                except EOFError:
                    conn.close()
                    proc.join()
                    status = "error"
                    payload = RuntimeError(f"worker process died (exit code {proc.exitcode})")
                if status == "ok":
                    on_result(task, payload)
                    continue
                _give_up_or_retry(task, payload, attempts, spec.retries)
                todo.append(task)
    finally:
        for _proc, conn in idle:
            try:
                conn.send_bytes(pickle.dumps(None))
            except OSError:
                pass
            conn.close()
        for proc, _ in busy.values():
            proc.kill()
        for proc, _ in [*idle, *busy.values()]:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()


# --- Ray --------------------------------------------------------------------------------------


def _ray_execute(task: FoldTask, ctx: TaskContext, fn) -> dict:
    import ray

    _worker_logging(ctx.log_level)
    outcome = fn(task, ctx)
    outcome["result"]["worker"]["ray_node"] = ray.get_runtime_context().get_node_id()
    return outcome


def ray_connect(spec: RunnerSpec):
    """``ray.init`` for ``spec``: a local Ray bound to loopback, or the cluster at the address.

    Returns the ``ray`` module; the caller shuts Ray down if this call started it (see
    :func:`run_tasks`), an already-initialised Ray (tests, notebooks) is used as it is.
    """
    try:
        import ray
    except ImportError as err:
        raise ValueError(
            "--ray needs Ray; install it with `pip install 'cmt-live[cluster]'` (or `pip "
            "install ray`)."
        ) from err
    if ray.is_initialized():
        return ray
    kw = dict(include_dashboard=False, log_to_driver=True)
    if spec.ray_address is None:
        # A local Ray on this machine only: every Ray process listens on loopback, and its
        # workers import this very package (not another install of it earlier on their path).
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])
        # "local": a new Ray even when another one runs on this machine (a bare ray.init()
        # joins the cluster named in /tmp/ray, e.g. another user's).
        kw["address"] = "local"
        kw["_node_ip_address"] = "127.0.0.1"
        kw["runtime_env"] = {"env_vars": {"PYTHONPATH": path}}
    else:
        kw["address"] = spec.ray_address
    ray.init(**kw)
    return ray


def _run_ray(tasks, ctx, spec, fn, on_result, attempts) -> None:
    started = not _ray_initialized()
    ray = ray_connect(spec)
    try:
        device = ctx.device
        if device == "auto":
            device = "cuda" if spec.gpus_per_fold > 0 else "cpu"
        ctx_ref = ray.put(TaskContext(**{**ctx.__dict__, "device": device}))
        remote = ray.remote(_ray_execute).options(
            num_cpus=spec.cpus_per_fold or 1,
            num_gpus=spec.gpus_per_fold,
            max_retries=0,  # retries are the driver's, so the run can say so
            scheduling_strategy="SPREAD",  # folds across the cluster's machines
        )
        pending = {remote.remote(t, ctx_ref, fn): t for t in tasks}
        logger.info(
            "Ray: %d fold tasks submitted (%s CPU, %s GPU each); cluster resources %s",
            len(pending),
            spec.cpus_per_fold or 1,
            spec.gpus_per_fold,
            ray.cluster_resources(),
        )
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            task = pending.pop(ref)
            try:
                outcome = ray.get(ref)
            except (KeyboardInterrupt, FoldFailed):
                raise
            except Exception as err:
                _give_up_or_retry(task, err, attempts, spec.retries)
                pending[remote.remote(task, ctx_ref, fn)] = task
                continue
            on_result(task, outcome)
    finally:
        if started:
            ray.shutdown()


def _ray_initialized() -> bool:
    try:
        import ray
    except ImportError:
        return False
    return ray.is_initialized()
