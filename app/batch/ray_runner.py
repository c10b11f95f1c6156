"""The same per-file tasks on a Ray cluster (``--ray``): the only module that imports ray.

``--ray local`` starts a private Ray instance on this machine (``--workers`` CPUs; gone
when the batch ends), ``--ray auto`` joins the cluster ``ray start`` runs here (or the
one ``RAY_ADDRESS`` names), and any other value is a cluster address
(``HEAD:6379``, or ``ray://HEAD:10001`` through Ray Client). Each file is one Ray task
asking for ``--threads`` CPUs; a Ray worker process loads the model once and keeps it
for the files it is given. Inputs and outputs are paths every node must see at the
same place (shared storage); the model file, which need not be, travels through Ray's
object store and is checked against its SHA-256 on the node whenever a worker loads it
(``model_here``). The driver writes the manifest as tasks finish, so a cluster batch
resumes like a local one.

The app sends nothing over the network of its own accord: Ray's usage statistics are
switched off before ray is imported, and ``--ray local`` runs its instance in
``private_instance_environment``: loopback only, no cloud metadata probe, no token
file. A cluster started elsewhere follows its own settings (see docs/batch.md).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from app.batch.manifest import FAILED, file_sha256
from app.batch.work import Outcome, Task, Worker
from app.system.output_files import cache_path, private_folder, write_bytes_staged

log = logging.getLogger(__name__)

LOCAL = "local"
INSTALL_HINT = "pip install 'emotion-live[cluster]' (or pip install ray) on this machine and every node"
TASK_RETRIES = 1
"""Ray runs a task again once when its worker or node is lost; a file that crashes its
worker twice is recorded as failed."""


LOOPBACK = "127.0.0.1"


def import_ray(local: bool = False):
    """ray, with its usage statistics off (and, for ``--ray local``, a loopback node
    address); ValueError saying how to install it."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # before the import: ray reads it then
    os.environ["RAY_USAGE_STATS_DISABLE"] = "1"
    if local:  # Ray's single-machine mode (its default on Windows and macOS): the node's
        # address is loopback, so every server binds 127.0.0.1 and no route to 8.8.8.8 is asked
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        import ray
    except ImportError:
        raise ValueError(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def run_on_ray(tasks: Sequence[Task], args: argparse.Namespace, address: str, workers: int,
               threads: int, model_sha256: str, on_outcome: Callable[[Outcome], None]) -> None:
    """Run ``tasks`` as Ray tasks of ``threads`` CPUs; outcomes go to ``on_outcome`` as they
    finish. Raises ValueError when Ray is missing or the cluster cannot be reached, and
    KeyboardInterrupt after cancelling what had not finished."""
    ray = import_ray(local=address == LOCAL)
    with contextlib.ExitStack() as stack:
        quiet = {"log_to_driver": False, "logging_level": logging.ERROR}  # workers log to Ray's files
        try:
            if address == LOCAL:
                stack.enter_context(private_instance_environment())
                ray.init(address=LOCAL, num_cpus=workers * threads, include_dashboard=False,
                         _node_ip_address=LOOPBACK, **quiet)
            else:
                ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise ValueError(f"cannot reach the Ray cluster at {address!r}: {error}") from None
        stack.callback(ray.shutdown)
        _run_tasks(ray, tasks, args, threads, model_sha256, on_outcome)


@contextlib.contextmanager
def private_instance_environment() -> Iterator[None]:
    """The environment of ``--ray local``'s instance, set while it runs (every Ray process
    it starts inherits it) and restored after:

    - a token of this run only, in memory: Ray turns token authentication on and would
      otherwise write ``~/.ray/auth_token`` readable by every user;
    - HTTP through a proxy address on loopback that refuses every connection: Ray's
      dashboard process starts even without the dashboard, to look up which cloud the
      machine is in (169.254.169.254, metadata.google.internal); that lookup now fails
      on this machine, with no DNS query and no packet sent. Loopback addresses bypass it.
    """
    refuser = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    refuser.bind((LOOPBACK, 0))  # bound, never listening: a connection to it is refused
    proxy = f"http://{LOOPBACK}:{refuser.getsockname()[1]}"
    loopback = f"{LOOPBACK},localhost,::1"
    settings = {"RAY_AUTH_TOKEN": secrets.token_hex(32),
                "http_proxy": proxy, "HTTP_PROXY": proxy, "https_proxy": proxy, "HTTPS_PROXY": proxy,
                "no_proxy": loopback, "NO_PROXY": loopback}
    before = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        refuser.close()


def _run_tasks(ray, tasks: Sequence[Task], args: argparse.Namespace, threads: int,
               model_sha256: str, on_outcome: Callable[[Outcome], None]) -> None:
    """Submit every task and hand each outcome over as it finishes."""
    remote = ray.remote(num_cpus=threads, max_retries=TASK_RETRIES)(_ray_task)
    model = [ray.put(Path(args.model).read_bytes())]  # in a list: fetched only where needed
    options = ray.put(args)
    waiting = {remote.remote(task, options, threads, model, model_sha256): task for task in tasks}
    try:
        while waiting:
            done, _ = ray.wait(list(waiting), num_returns=1, timeout=1.0)
            for reference in done:
                task = waiting.pop(reference)
                try:
                    outcome = ray.get(reference)
                except ray.exceptions.RayError as error:
                    reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
                    outcome = Outcome(task.index, FAILED, error=f"Ray: {type(error).__name__}: {reason}")
                on_outcome(outcome)
    except KeyboardInterrupt:
        for reference in waiting:
            ray.cancel(reference, force=True)
        raise


_workers: dict[str, Worker] = {}
"""This Ray worker process's Worker, by model SHA-256 (a worker process serves one driver)."""


def _ray_task(task: Task, args: argparse.Namespace, threads: int, model: list,
              model_sha256: str) -> Outcome:
    """One file, in a Ray worker process."""
    worker = _workers.get(model_sha256)
    if worker is None:
        import ray

        args = argparse.Namespace(**vars(args))
        args.model = str(model_here(args.model, lambda: ray.get(model[0]), model_sha256))
        _workers.clear()
        worker = _workers[model_sha256] = Worker(args, threads)
    return worker.run(task)


def model_here(path: str, fetch: Callable[[], bytes], model_sha256: str) -> Path:
    """The driver's model file where this node has it, else this node's cached copy, else
    the bytes ``fetch`` gets from the object store, cached; each checked against
    ``model_sha256`` before use. The cache is private to the user (``cache_path``, mode
    0700, never a shared temporary folder), so nobody else can swap a checked file."""
    if Path(path).is_file() and file_sha256(Path(path)) == model_sha256:
        return Path(path)
    folder = private_folder(private_folder(cache_path("models")) / model_sha256)
    copy = folder / Path(path).name  # its own name: the CSV's model column is the stem
    if copy.is_file() and file_sha256(copy) == model_sha256:
        return copy
    data = fetch()
    if hashlib.sha256(data).hexdigest() != model_sha256:
        raise ValueError(f"the model {Path(path).name} reached this node changed (its SHA-256 "
                         "differs from the driver's)")
    return write_bytes_staged(copy, data)
