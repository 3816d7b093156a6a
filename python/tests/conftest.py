from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
TESTS_DIR = Path(__file__).resolve().parent
for path in (PYTHON_DIR, TESTS_DIR):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from worker_process import WorkerProcess  # noqa: E402


@pytest.fixture
def spawn_worker() -> Iterator[Callable[..., WorkerProcess]]:
    """Start workers for one test and kill any still running at its end."""
    workers: list[WorkerProcess] = []

    def spawn(programs: list[str], **kwargs) -> WorkerProcess:
        worker = WorkerProcess(programs, **kwargs)
        workers.append(worker)
        return worker

    yield spawn
    for worker in workers:
        worker.close()
