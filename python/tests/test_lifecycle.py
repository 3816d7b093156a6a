"""Start-up failures, stop paths and parent death, against real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from worker_process import (
    PROGRAMS_DIR,
    process_gone,
    program_path,
    worker_env,
)

BASIC = program_path("basic.py")
PARENT_SCRIPT = str(Path(__file__).resolve().parent / "parent_process.py")


def wait_until_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_gone(pid):
            return True
        time.sleep(0.02)
    return process_gone(pid)


def test_stdin_close_exits_promptly(spawn_worker) -> None:
    worker = spawn_worker([BASIC])
    worker.read_ready()
    worker.close_stdin()
    assert worker.wait(timeout=1) == 0


def test_stdin_close_inside_frame_exits(spawn_worker) -> None:
    worker = spawn_worker([BASIC])
    worker.read_ready()
    worker.send_bytes(b"\x00\x00\x00\x20{")
    worker.close_stdin()
    assert worker.wait(timeout=1) == 0


def test_shutdown_command(spawn_worker) -> None:
    worker = spawn_worker([BASIC])
    worker.read_ready()
    response = worker.request("shutdown")
    assert response["ok"] is True
    assert response["result"] is None
    assert worker.wait(timeout=2) == 0


def test_sigterm_idle_exits_promptly(spawn_worker) -> None:
    worker = spawn_worker([BASIC])
    worker.read_ready()
    worker.process.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=1) == 0


def test_sigterm_in_flight_sends_response(spawn_worker) -> None:
    worker = spawn_worker([BASIC])
    worker.read_ready()
    worker.send(
        {
            "type": "request",
            "id": 1,
            "command": "execute",
            "program": "sleep",
            "inputs": {"seconds": 0.5},
        }
    )
    worker.wait_for_stderr("sleep started")
    worker.process.send_signal(signal.SIGTERM)
    response = worker.read_message(timeout=3)
    assert response is not None
    assert response["id"] == 1
    assert response["result"] == "slept"
    assert worker.wait(timeout=2) == 0


def test_sigterm_during_startup_exits_promptly(spawn_worker) -> None:
    worker = spawn_worker([program_path("slow_import.py")])
    worker.wait_for_stderr("import started")
    worker.process.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=1) == 0
    assert worker.read_message() is None


def test_sigint_ignored(spawn_worker) -> None:
    worker = spawn_worker([BASIC])
    worker.read_ready()
    worker.process.send_signal(signal.SIGINT)
    assert worker.request("ping")["result"] == "pong"
    assert worker.process.poll() is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_parent_death_ends_worker() -> None:
    worker_stdin_read, worker_stdin_write = os.pipe()
    worker_stdout_read, worker_stdout_write = os.pipe()
    parent = subprocess.Popen(
        [
            sys.executable,
            PARENT_SCRIPT,
            str(worker_stdin_read),
            str(worker_stdout_write),
            BASIC,
        ],
        stdout=subprocess.PIPE,
        pass_fds=(worker_stdin_read, worker_stdout_write),
        env=worker_env(),
    )
    os.close(worker_stdin_read)
    os.close(worker_stdout_write)
    worker_pid = 0
    try:
        assert parent.stdout is not None
        worker_pid = int(parent.stdout.readline())
        # The ready frame shows that start-up, and so the prctl call, is done.
        header = os.read(worker_stdout_read, 4)
        assert len(header) == 4
        parent.kill()
        parent.wait()
        assert wait_until_gone(worker_pid, timeout=2)
    finally:
        if worker_pid and not process_gone(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)
        os.close(worker_stdin_write)
        os.close(worker_stdout_read)
        if parent.poll() is None:
            parent.kill()
        if parent.stdout is not None:
            parent.stdout.close()


def test_missing_programs_file(spawn_worker, tmp_path: Path) -> None:
    worker = spawn_worker(["missing/programs.py"], cwd=str(tmp_path))
    message = worker.read_message()
    assert worker.wait() == 3
    expected_path = str(tmp_path / "missing" / "programs.py")
    assert message == {
        "type": "startup_error",
        "error": {
            "category": "program",
            "type": "program_not_found",
            "message": (
                f"programs file not found: {expected_path}; check the --programs "
                "path (relative paths resolve against the worker's cwd "
                f"{tmp_path})"
            ),
            "context": {"path": expected_path},
        },
    }
    assert worker.read_message() is None


def test_programs_file_raising_at_import(spawn_worker) -> None:
    path = program_path("raises_at_import.py")
    worker = spawn_worker([path])
    message = worker.read_message()
    assert worker.wait() == 3
    assert message["type"] == "startup_error"
    error = message["error"]
    assert error["category"] == "program"
    assert error["type"] == "program_error"
    assert path in error["message"]
    assert "RuntimeError: configuration missing" in error["message"]
    assert error["context"]["path"] == path
    assert error["context"]["exception"] == "RuntimeError"
    assert "raises_at_import.py" in error["context"]["traceback"]
    assert "configuration missing" in worker.stderr_text()


def test_no_programs_registered(spawn_worker) -> None:
    path = program_path("registers_nothing.py")
    worker = spawn_worker([path])
    message = worker.read_message()
    assert worker.wait() == 3
    assert message["error"]["type"] == "program_not_found"
    assert path in message["error"]["message"]


def test_missing_programs_module(spawn_worker) -> None:
    worker = spawn_worker(["no_such_module_for_pyroost"])
    message = worker.read_message()
    assert worker.wait() == 3
    assert message["error"]["type"] == "program_not_found"
    assert "no_such_module_for_pyroost" in message["error"]["message"]


def test_programs_by_module_name(spawn_worker) -> None:
    worker = spawn_worker(["basic"], extra_pythonpath=[str(PROGRAMS_DIR)])
    ready = worker.read_ready()
    assert "add" in ready["programs"]
    assert worker.execute("add", inputs={"a": 1})["result"] == 1


def test_relative_programs_path(spawn_worker) -> None:
    worker = spawn_worker(["programs/basic.py"], cwd=str(PROGRAMS_DIR.parent))
    assert "add" in worker.read_ready()["programs"]
