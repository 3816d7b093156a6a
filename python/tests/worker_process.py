"""A real ``python -m pyroost`` subprocess driven over its pipes, for tests.

The frame decoder here is written independently of ``pyroost.frames``, so the
end-to-end tests do not trust the code they check. Background threads drain
stdout into a queue of messages and stderr into a buffer, so a worker that
writes megabytes to stderr never blocks on a full pipe.
"""

from __future__ import annotations

import json
import os
import queue
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

PYTHON_DIR = Path(__file__).resolve().parents[1]
PROGRAMS_DIR = Path(__file__).resolve().parent / "programs"

# Returned by read_message when the worker closed its stdout.
END_OF_STREAM = None


def worker_env(extra_pythonpath: list[str] | None = None) -> dict[str, str]:
    """Return an environment whose PYTHONPATH finds the pyroost package."""
    env = dict(os.environ)
    paths = [str(PYTHON_DIR), *(extra_pythonpath or [])]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def worker_command(programs: list[str], args: list[str] | None = None) -> list[str]:
    return [sys.executable, "-m", "pyroost", "--programs", *programs, *(args or [])]


def encode_frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return struct.pack(">I", len(body)) + body


class WorkerProcess:
    """One worker subprocess with helpers to send frames and read messages."""

    def __init__(
        self,
        programs: list[str],
        args: list[str] | None = None,
        cwd: str | None = None,
        extra_pythonpath: list[str] | None = None,
    ) -> None:
        self.process = subprocess.Popen(
            worker_command(programs, args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=worker_env(extra_pythonpath),
            cwd=cwd,
        )
        self.pid = self.process.pid
        self._stderr = bytearray()
        self._stderr_lock = threading.Lock()
        self._messages: queue.Queue[tuple[bytes, dict[str, Any]] | None] = queue.Queue()
        self._next_id = 1
        self._threads = [
            threading.Thread(target=self._drain_stdout, daemon=True),
            threading.Thread(target=self._drain_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # Reading

    def read_raw(self, timeout: float = 10.0) -> tuple[bytes, dict[str, Any]] | None:
        """Return the next frame body and its decoded message, or None at EOF."""
        try:
            item = self._messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"no message from worker {self.pid} within {timeout} s. "
                f"stderr:\n{self.stderr_text()[-4000:]}"
            ) from None
        if item is None:
            self._messages.put(None)  # Later reads see the end as well.
        return item

    def read_message(self, timeout: float = 10.0) -> dict[str, Any] | None:
        item = self.read_raw(timeout)
        return None if item is None else item[1]

    def read_ready(self) -> dict[str, Any]:
        message = self.read_message()
        assert message is not None, f"worker exited: {self.stderr_text()[-4000:]}"
        assert message["type"] == "ready", message
        return message

    # Writing

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(encode_frame(message))

    def send_bytes(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def close_stdin(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def request_raw(
        self, command: str, timeout: float = 10.0, **fields: Any
    ) -> tuple[bytes, dict[str, Any]]:
        """Send a request and return the raw body and message of its response."""
        request_id = self._next_id
        self._next_id += 1
        self.send({"type": "request", "id": request_id, "command": command, **fields})
        item = self.read_raw(timeout)
        assert item is not None, f"worker exited: {self.stderr_text()[-4000:]}"
        body, response = item
        assert response["type"] == "response", response
        assert response["id"] == request_id, response
        return body, response

    def request(self, command: str, timeout: float = 10.0, **fields: Any) -> dict:
        return self.request_raw(command, timeout, **fields)[1]

    def execute(self, program: str, timeout: float = 10.0, **fields: Any) -> dict:
        return self.request("execute", timeout, program=program, **fields)

    # Process state

    def stderr_text(self) -> str:
        with self._stderr_lock:
            return self._stderr.decode("utf-8", errors="replace")

    def wait_for_stderr(self, text: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.stderr_text():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on stderr within {timeout} s")
            time.sleep(0.01)

    def wait(self, timeout: float = 5.0) -> int:
        return self.process.wait(timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Background threads

    def _drain_stdout(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while True:
            header = stdout.read(4)
            if len(header) < 4:
                break
            (size,) = struct.unpack(">I", header)
            body = stdout.read(size)
            if len(body) < size:
                break
            self._messages.put((body, json.loads(body.decode("utf-8"))))
        self._messages.put(END_OF_STREAM)

    def _drain_stderr(self) -> None:
        stderr = self.process.stderr
        assert stderr is not None
        while True:
            chunk = stderr.read1(65536)
            if not chunk:
                return
            with self._stderr_lock:
                self._stderr.extend(chunk)


def program_path(name: str) -> str:
    return str(PROGRAMS_DIR / name)


def process_gone(pid: int) -> bool:
    """Return whether pid has exited, counting an unreaped zombie as exited."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The state letter follows the command name in parentheses.
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
