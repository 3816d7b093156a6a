"""End-to-end tests of the commands, against a real worker subprocess."""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Iterator

import pytest

from worker_process import WorkerProcess, program_path

BASIC = program_path("basic.py")


@pytest.fixture(scope="module")
def worker() -> Iterator[WorkerProcess]:
    """One worker shared by the tests in this module, which leave it running."""
    with WorkerProcess([BASIC]) as process:
        process.ready_message = process.read_ready()
        yield process


def assert_error(response: dict, category: str, error_type: str) -> dict:
    assert response["ok"] is False, response
    error = response["error"]
    assert error["category"] == category, error
    assert error["type"] == error_type, error
    return error


def test_ready_message(worker: WorkerProcess) -> None:
    ready = worker.ready_message
    assert set(ready) == {"type", "protocol", "pid", "python", "programs"}
    assert ready["protocol"] == 1
    assert ready["pid"] == worker.pid
    assert ready["python"].count(".") == 2
    assert ready["programs"] == sorted(ready["programs"])
    assert {"add", "echo", "session", "async_add"} <= set(ready["programs"])


def test_ping(worker: WorkerProcess) -> None:
    response = worker.request("ping")
    assert response["ok"] is True
    assert response["result"] == "pong"


def test_execute_success(worker: WorkerProcess) -> None:
    response = worker.execute("add", inputs={"a": 2, "b": 3})
    assert response["ok"] is True
    assert response["result"] == 5
    timing = response["timing"]
    assert isinstance(timing["start_ns"], int)
    assert isinstance(timing["end_ns"], int)
    assert timing["start_ns"] <= timing["end_ns"]


def test_execute_without_inputs(worker: WorkerProcess) -> None:
    response = worker.execute("echo")
    assert response["result"] == {}


def test_session_id_visible_to_program(worker: WorkerProcess) -> None:
    assert worker.execute("session", session_id="s-1")["result"] == "s-1"
    assert worker.execute("session")["result"] is None


def test_context_variables_end_with_the_call(worker: WorkerProcess) -> None:
    for _ in range(3):
        assert worker.execute("bump_context_var")["result"] == 0
    response = worker.request(
        "execute_batch", program="bump_context_var", inputs_list=[{}, {}, {}]
    )
    assert [item["result"] for item in response["result"]] == [0, 0, 0]


def test_program_error_with_traceback(worker: WorkerProcess) -> None:
    response = worker.execute("fail", inputs={"message": "bad row 3"}, session_id="s")
    error = assert_error(response, "program", "program_error")
    assert error["message"] == "ValueError: bad row 3"
    context = error["context"]
    assert context["program"] == "fail"
    assert context["session_id"] == "s"
    assert context["exception"] == "ValueError"
    assert "basic.py" in context["traceback"]
    assert "raise ValueError(message)" in context["traceback"]
    assert "pyroost/execution.py" not in context["traceback"]
    assert "timing" in response


def test_program_error_message_truncated(worker: WorkerProcess) -> None:
    response = worker.execute("fail", inputs={"message": "m" * 5000})
    error = assert_error(response, "program", "program_error")
    assert error["message"].startswith("ValueError: " + "m" * 2000)
    assert len(error["message"]) < 2100


def test_system_exit_is_program_error(worker: WorkerProcess) -> None:
    response = worker.execute("call_exit")
    error = assert_error(response, "program", "program_error")
    assert error["context"]["exception"] == "SystemExit"
    assert worker.request("ping")["result"] == "pong"


def test_unknown_program(worker: WorkerProcess) -> None:
    response = worker.execute("no_such_program")
    error = assert_error(response, "program", "program_not_found")
    assert "'no_such_program'" in error["message"]
    assert "add" in error["message"]
    assert "add" in error["context"]["registered"]


def test_bad_kwargs_invalid_input(worker: WorkerProcess) -> None:
    response = worker.execute("add", inputs={"a": 1, "c": 2})
    error = assert_error(response, "program", "invalid_input")
    assert "'add'" in error["message"]
    assert "'c'" in error["message"]
    assert "a, b=0" in error["message"]
    assert "timing" not in response


def test_missing_argument_invalid_input(worker: WorkerProcess) -> None:
    response = worker.execute("add", inputs={"b": 1})
    error = assert_error(response, "program", "invalid_input")
    assert "missing a required argument: 'a'" in error["message"]


@pytest.mark.parametrize("inputs", [[1, 2], "text", None, 3])
def test_inputs_not_object(worker: WorkerProcess, inputs: object) -> None:
    response = worker.execute("add", inputs=inputs)
    assert_error(response, "program", "invalid_input")


def test_print_to_stdout_goes_to_stderr(worker: WorkerProcess) -> None:
    response = worker.execute("print_to_stdout", inputs={"size": 1_000_000})
    assert response["result"] == "printed"
    worker.wait_for_stderr("written to fd 1")
    assert worker.request("ping")["result"] == "pong"


def test_large_stderr_output(worker: WorkerProcess) -> None:
    response = worker.execute("write_to_stderr", inputs={"size": 5_000_000})
    assert response["result"] == {"size": 5_000_000}


def test_20mb_result_round_trips(worker: WorkerProcess) -> None:
    response = worker.execute("repeat", inputs={"text": "ab", "count": 10_000_000})
    assert response["ok"] is True
    assert response["result"] == "ab" * 10_000_000


@pytest.mark.parametrize("text", ["z", "é"])
def test_result_near_pipe_buffer_size(worker: WorkerProcess, text: str) -> None:
    response = worker.execute("repeat", inputs={"text": text, "count": 65_500})
    assert response["result"] == text * 65_500


def test_special_floats_as_tokens(worker: WorkerProcess) -> None:
    body, response = worker.request_raw("execute", program="special_floats")
    assert b'"result":[NaN,Infinity,-Infinity]' in body
    nan, inf, negative_inf = response["result"]
    assert math.isnan(nan)
    assert inf == math.inf
    assert negative_inf == -math.inf


def test_big_integers_as_strings(worker: WorkerProcess) -> None:
    response = worker.execute("big_integers")
    assert response["result"] == {
        "big": "18446744073709551616",
        "negative": "-9007199254740992",
        "safe": 2**53 - 1,
        "flag": True,
    }
    assert isinstance(response["timing"]["start_ns"], int)


def test_bytes_result_as_base64(worker: WorkerProcess) -> None:
    result = worker.execute("binary")["result"]
    assert base64.b64decode(result) == b"\x00\x01\xfe\xff"


def test_lone_surrogate_round_trips(worker: WorkerProcess) -> None:
    body, response = worker.request_raw(
        "execute", program="echo", inputs={"s": "a\ud800b"}
    )
    assert b"\\ud800" in body
    assert response["result"] == {"s": "a\ud800b"}


def test_unencodable_result(worker: WorkerProcess) -> None:
    response = worker.execute("unencodable")
    error = assert_error(response, "program", "invalid_output")
    assert "object" in error["message"]
    assert error["context"]["type"] == "object"


def test_async_program(worker: WorkerProcess) -> None:
    response = worker.execute("async_add", inputs={"a": 1, "b": 2}, session_id="s-9")
    assert response["result"] == {"sum": 3, "session": "s-9"}
    again = worker.execute("async_add", inputs={"a": 4, "b": 5})
    assert again["result"] == {"sum": 9, "session": None}


def test_async_program_error(worker: WorkerProcess) -> None:
    error = assert_error(worker.execute("async_fail"), "program", "program_error")
    assert error["message"] == "KeyError: 'missing'"
    assert "async_fail" in error["context"]["traceback"]


def test_input_reads_eof(worker: WorkerProcess) -> None:
    response = worker.execute("read_stdin", timeout=3)
    error = assert_error(response, "program", "program_error")
    assert error["context"]["exception"] == "EOFError"
    assert worker.request("ping")["result"] == "pong"


def test_sibling_import(worker: WorkerProcess) -> None:
    assert worker.execute("sibling")["result"] == "hello from a sibling"


def test_opentelemetry_not_imported_without_trace(worker: WorkerProcess) -> None:
    response = worker.execute("is_imported", inputs={"module": "opentelemetry"})
    assert response["result"] is False


def test_execute_batch(worker: WorkerProcess) -> None:
    inputs_list = [{"a": 1, "b": 2}, {"a": "x", "b": 1}, {"c": 1}, {"a": 5}]
    response = worker.request("execute_batch", program="add", inputs_list=inputs_list)
    assert response["ok"] is True
    ok, raised, invalid, default = response["result"]
    assert ok == {"ok": True, "result": 3}
    assert raised["ok"] is False
    assert raised["error"]["type"] == "program_error"
    assert raised["error"]["context"]["exception"] == "TypeError"
    assert invalid["ok"] is False
    assert invalid["error"]["type"] == "invalid_input"
    assert default == {"ok": True, "result": 5}
    assert response["timing"]["start_ns"] <= response["timing"]["end_ns"]


def test_execute_batch_unencodable_item(worker: WorkerProcess) -> None:
    inputs_list = [{"kind": "text"}, {"kind": "object"}]
    response = worker.request(
        "execute_batch", program="unencodable", inputs_list=inputs_list
    )
    first, second = response["result"]
    assert first == {"ok": True, "result": "text"}
    assert second["ok"] is False
    assert second["error"]["type"] == "invalid_output"


@pytest.mark.parametrize("inputs_list", [{"a": 1}, [{"a": 1}, 2], None])
def test_execute_batch_invalid_inputs_list(
    worker: WorkerProcess, inputs_list: object
) -> None:
    response = worker.request("execute_batch", program="add", inputs_list=inputs_list)
    assert_error(response, "program", "invalid_input")


def test_execute_batch_unknown_program(worker: WorkerProcess) -> None:
    response = worker.request("execute_batch", program="nope", inputs_list=[{}])
    assert_error(response, "program", "program_not_found")


def test_describe(worker: WorkerProcess) -> None:
    programs = worker.request("describe")["result"]["programs"]
    names = [entry["name"] for entry in programs]
    assert names == sorted(worker.ready_message["programs"])
    add = next(entry for entry in programs if entry["name"] == "add")
    assert add == {"name": "add", "doc": "Return a + b.", "parameters": ["a", "b"]}
    echo = next(entry for entry in programs if entry["name"] == "echo")
    assert echo["doc"] is None
    assert echo["parameters"] == ["inputs"]


def test_stats(worker: WorkerProcess) -> None:
    first = worker.request("stats")["result"]
    assert first["pid"] == worker.pid
    assert first["rss_bytes"] > 1_000_000
    assert first["max_rss_bytes"] > 1_000_000
    worker.request("ping")
    second = worker.request("stats")["result"]
    assert second["requests"] == first["requests"] + 2


@pytest.mark.parametrize(
    "message",
    [
        {"type": "response", "id": 1, "command": "ping"},
        {"type": "request", "id": 1, "command": "explode"},
        {"type": "request", "id": 1},
        {"type": "request", "id": 1, "command": "execute", "program": 3},
        {
            "type": "request",
            "id": 1,
            "command": "execute",
            "program": "add",
            "session_id": 5,
        },
    ],
    ids=[
        "wrong type",
        "unknown command",
        "no command",
        "program number",
        "session number",
    ],
)
def test_malformed_request_protocol_error(worker: WorkerProcess, message) -> None:
    worker.send(message)
    response = worker.read_message()
    assert response["id"] == 1
    assert_error(response, "communication", "protocol_error")


@pytest.mark.parametrize("request_id", ["7", 1.5, None, True])
def test_non_integer_id_answered_with_zero(worker: WorkerProcess, request_id) -> None:
    worker.send({"type": "request", "id": request_id, "command": "ping"})
    response = worker.read_message()
    assert response["id"] == 0
    assert_error(response, "communication", "protocol_error")


def test_frame_too_large_result_keeps_worker(spawn_worker) -> None:
    worker = spawn_worker([BASIC], args=["--max-frame-bytes", "4096"])
    worker.read_ready()
    response = worker.execute("repeat", inputs={"text": "a", "count": 10_000})
    error = assert_error(response, "communication", "frame_too_large")
    assert "4096" in error["message"]
    assert "maxFrameBytes" in error["message"]
    assert error["context"]["max_frame_bytes"] == 4096
    assert error["context"]["size"] > 10_000
    assert worker.execute("repeat", inputs={"text": "a", "count": 100})["ok"]
    assert worker.request("ping")["result"] == "pong"


def test_oversized_request_header_exits_4(spawn_worker) -> None:
    worker = spawn_worker([BASIC], args=["--max-frame-bytes", "4096"])
    worker.read_ready()
    worker.send_bytes(struct.pack(">I", 4097))
    assert worker.wait() == 4
    assert worker.read_message() is None
    assert "4097" in worker.stderr_text()


def test_undecodable_request_exits_4(spawn_worker) -> None:
    worker = spawn_worker([BASIC])
    worker.read_ready()
    body = b"{not json"
    worker.send_bytes(struct.pack(">I", len(body)) + body)
    assert worker.wait() == 4
    assert "not valid JSON" in worker.stderr_text()


def test_request_split_across_writes(spawn_worker) -> None:
    worker = spawn_worker([BASIC])
    worker.read_ready()
    body = json.dumps({"type": "request", "id": 1, "command": "ping"}).encode()
    frame = struct.pack(">I", len(body)) + body
    for offset in range(len(frame)):
        worker.send_bytes(frame[offset : offset + 1])
    assert worker.read_message()["result"] == "pong"
