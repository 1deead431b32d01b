"""Map workers without recursion: moto's Map workers call themselves once per item.

The originals of the three `_eval_pool` methods end with `self._eval_pool(job=next_job, worker_frame=...)`,
one Python frame per item, so a worker that processes ~950+ items (MaxConcurrency set, or a Distributed
Map) dies with RecursionError and the execution fails or stays RUNNING. Each replacement is the same body
with that tail call turned into `job = next_job` inside a loop; nothing runs after the tail call in the
originals, so behaviour is identical.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localcloud.patchpoints import PatchPoint

_ITERATION = "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration"
_POOL_PARAMS = ("self", "job", "worker_frame")

INLINE_POOL = PatchPoint(
    f"{_ITERATION}.iteration_worker",
    "IterationWorker._eval_pool",
    _POOL_PARAMS,
    "45ca0026e8cc8e8593761915b6acd8ceab08f2bcdb819378c690bb9a5cdd3da7",
)
DISTRIBUTED_ITEM_PROCESSOR_POOL = PatchPoint(
    f"{_ITERATION}.itemprocessor.distributed_item_processor_worker",
    "DistributedItemProcessorWorker._eval_pool",
    _POOL_PARAMS,
    "8797235af229965ff2294510e693a602ece233165d80bc130a0dbd19bdd9963a",
)
DISTRIBUTED_ITERATOR_POOL = PatchPoint(
    f"{_ITERATION}.iterator.distributed_iterator_worker",
    "DistributedIteratorWorker._eval_pool",
    _POOL_PARAMS,
    "e1d825fe6e13a29bb2c9501aa35ddf2370b427996d576028fb0ffb553c98d374",
)
POINTS = (INLINE_POOL, DISTRIBUTED_ITEM_PROCESSOR_POOL, DISTRIBUTED_ITERATOR_POOL)


def _inline_eval_pool(self: Any, job: Any, worker_frame: Any) -> None:
    while True:
        # The frame has to be closed before the job, so the owner environment is
        # updated before the map state (which awaits jobs, not workers) continues.
        if job is None:
            self._env.close_frame(worker_frame)
            return

        job_frame = worker_frame.open_inner_frame()
        self._eval_job(env=job_frame, job=job)
        worker_frame.close_frame(job_frame)

        # Evaluation terminates here due to exception in job, or worker was stopped.
        if isinstance(job.job_output, Exception) or self.stopped():
            self._env.close_frame(worker_frame)
            self._job_pool.close_job(job)
            return

        next_job = self._job_pool.next_job()
        if next_job is None:
            # Non-faulty terminal iteration events are the source of the following states.
            worker_frame.event_history_context.source_event_id = job_frame.event_history_context.last_published_event_id
            self._env.close_frame(worker_frame)
            self._job_pool.close_job(job)
            return

        self._job_pool.close_job(job)
        job = next_job


def _distributed_eval_pool(open_frame_attr: str) -> Callable[..., None]:
    # The two distributed workers differ only in how the job frame is opened
    # (open_inner_frame for the item processor, open_frame for the iterator).
    def _eval_pool(self: Any, job: Any, worker_frame: Any) -> None:
        while True:
            if job is None:
                self._env.delete_frame(worker_frame)
                return

            job_frame = getattr(worker_frame, open_frame_attr)()
            self._eval_job(env=job_frame, job=job)
            worker_frame.delete_frame(job_frame)

            if isinstance(job.job_output, Exception) or self.stopped():
                self._env.delete_frame(worker_frame)
                self._job_pool.close_job(job)
                return

            next_job = self._job_pool.next_job()
            if next_job is None:
                self._env.delete_frame(worker_frame)
                self._job_pool.close_job(job)
                return

            self._job_pool.close_job(job)
            job = next_job

    return _eval_pool


def install() -> None:
    INLINE_POOL.install(_inline_eval_pool)
    DISTRIBUTED_ITEM_PROCESSOR_POOL.install(_distributed_eval_pool("open_inner_frame"))
    DISTRIBUTED_ITERATOR_POOL.install(_distributed_eval_pool("open_frame"))
