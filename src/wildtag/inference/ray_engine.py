"""The Ray engine of an archive run: the per-file work of :class:`~wildtag.inference.scoring.ScoreFiles` as Ray
tasks, on one machine or a cluster; the driver keeps the journal, the shards and the outputs.

    >>> summary = predict("runs/demo", ["/mnt/survey"], "/mnt/preds", engine=RayEngine(address="auto"))

    wildtag predict runs/demo /mnt/survey --out /mnt/preds --engine ray --address auto

The files are cut into chunks of about equal size (bytes on disk), several per CPU of the cluster so that
a slow chunk does not hold the run up; each chunk is one task that scores its files with the same
:class:`ScoreFiles` the local engine runs (decoding in ``workers_per_task`` processes, 0 = in the task)
and returns one :class:`~wildtag.inference.scoring.FileResult` per file (window starts and scores, or why
the file failed). At most ``2 x CPUs`` chunks are in flight, so the driver's memory does not grow with the
archive. Results come back in the order chunks finish; the driver commits them to the journal as the local
engine does, so a run stopped and resumed with either engine writes the same outputs. A batch's scores do
not depend on the files beside it (:class:`ScoreFiles` pads every batch), so chunking changes no value.

Workers read the files by the absolute paths the driver sees: on a cluster the archive must be on a file
system every node mounts at the same place, and wildtag installed on every node. Ray is the optional
extra ``wildtag[ray]``; see ``docs/ray.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

from wildtag.errors import ConfigError
from wildtag.inference.scoring import FileResult, FileTask, ScoreFiles


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("--engine ray needs Ray: pip install 'wildtag[ray]'") from None
    return ray


def chunk_tasks(tasks: Sequence[FileTask], n_chunks: int, max_files: int = 256) -> list[list[int]]:
    """Indices of ``tasks`` in about ``n_chunks`` runs of consecutive files of about equal bytes (a file
    larger than a chunk's share is a chunk of its own; no chunk holds over ``max_files`` files)."""
    if not tasks:
        return []
    total = sum(max(t.stamp.size, 1) for t in tasks)
    target = total / max(1, n_chunks)
    chunks: list[list[int]] = [[]]
    filled = 0.0
    for i, task in enumerate(tasks):
        size = max(task.stamp.size, 1)
        if chunks[-1] and (filled + size > target or len(chunks[-1]) >= max_files):
            chunks.append([])
            filled = 0.0
        chunks[-1].append(i)
        filled += size
    return chunks


def _score_chunk(work: ScoreFiles, tasks: list[FileTask]) -> list[FileResult]:
    """Runs in a Ray worker: one chunk's files through the same per-file work as the local engine."""
    from wildtag.runtime import configure_scoring

    configure_scoring(max(1, int(_task_cpus())))
    return list(work(tasks))


def _task_cpus() -> float:
    import ray

    try:
        return ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    except Exception:  # outside a task, or an older Ray without the call
        return 1.0


class RayEngine:
    """An engine for :func:`wildtag.inference.predict.predict` that runs :class:`ScoreFiles` as Ray tasks.

    ``address`` is the cluster's (``"auto"``, ``"ray://head:10001"``; ``None`` connects to a running
    cluster if there is one, else starts a local one). ``cpus_per_task`` are reserved per chunk (torch
    uses that many threads in it); ``chunks_per_cpu`` sets how finely the files are cut.
    """

    def __init__(self, address: str | None = None, *, cpus_per_task: float = 1.0, workers_per_task: int = 0,
                 chunks_per_cpu: int = 4, max_files_per_chunk: int = 256, init_options: dict[str, Any] | None = None):
        if cpus_per_task <= 0:
            raise ConfigError(f"cpus_per_task must be > 0, got {cpus_per_task}")
        if workers_per_task < 0:
            raise ConfigError(f"workers_per_task must be >= 0, got {workers_per_task}")
        self.address, self.cpus_per_task, self.workers_per_task = address, cpus_per_task, workers_per_task
        self.chunks_per_cpu, self.max_files_per_chunk = chunks_per_cpu, max_files_per_chunk
        self.init_options = dict(init_options or {})

    def _connect(self, ray: Any) -> bool:
        """Connect to (or start) the cluster unless connected already; True when this engine connected."""
        if ray.is_initialized():
            return False
        options = {"include_dashboard": False, "log_to_driver": False, **self.init_options}
        ray.init(address=self.address, **options)
        return True

    def __call__(self, work: ScoreFiles, tasks: Sequence[FileTask]) -> Iterator[FileResult]:
        """Each task's :class:`FileResult`, with the driver's own task objects, as chunks finish."""
        if not tasks:
            return
        ray = _import_ray()
        connected = self._connect(ray)
        try:
            yield from self._run(ray, work, tasks)
        finally:
            if connected:
                ray.shutdown()

    def _run(self, ray: Any, work: ScoreFiles, tasks: Sequence[FileTask]) -> Iterator[FileResult]:
        cpus = max(1.0, float(ray.cluster_resources().get("CPU", 1.0)))
        slots = max(1, int(cpus // self.cpus_per_task))
        chunks = chunk_tasks(tasks, slots * self.chunks_per_cpu, self.max_files_per_chunk)
        remote_work = ScoreFiles(work.scorer, work.windows, batch_size=work.batch_size,
                                 num_workers=self.workers_per_task)
        try:
            work_ref = ray.put(remote_work)
        except Exception as error:  # e.g. a scorer holding an onnxruntime session
            raise ConfigError(f"--engine ray cannot send this model to the Ray workers "
                              f"({type(error).__name__}: {error}); use the torch backend") from error
        score = ray.remote(num_cpus=self.cpus_per_task, max_retries=2)(_score_chunk)
        # workers see absolute paths: they may run in another working directory or on another machine
        sent = [[dataclasses.replace(tasks[i], path=tasks[i].path.absolute()) for i in chunk] for chunk in chunks]
        in_flight: dict[Any, list[int]] = {}
        next_chunk = 0
        try:
            while next_chunk < len(chunks) or in_flight:
                while next_chunk < len(chunks) and len(in_flight) < 2 * slots:
                    in_flight[score.remote(work_ref, sent[next_chunk])] = chunks[next_chunk]
                    next_chunk += 1
                ready, _ = ray.wait(list(in_flight), num_returns=1)
                mine = {tasks[i].recording_id: tasks[i] for i in in_flight.pop(ready[0])}
                for result in ray.get(ready[0]):  # in the order the chunk's files finished
                    yield dataclasses.replace(result, task=mine[result.recording_id])
        finally:  # stopped early (--fail-on-error, Ctrl-C): the rest of the cluster's work is not wanted
            for ref in in_flight:
                ray.cancel(ref)
