"""Log backends chosen on the stack: the database backend (through the API) and the OTLP exporter."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from runyard import Client, pipeline, step
from runyard.schemas.logs import LogQuery


@step(enable_cache=False)
def chatty(n: int = 3) -> int:
    import logging

    for i in range(n):
        print(f"db line {i}")
    logging.getLogger("chatty").error("an error record")
    return n


@pipeline(enable_cache=False)
def chatter(n: int = 3) -> None:
    chatty(n=n)


def _stack_with_log_backend(flavor: str, config: dict[str, Any] | None = None) -> None:
    client = Client()
    client.register_component("log_backend", f"logs-{flavor}", flavor, config or {})
    client.api.create_stack(  # type: ignore[call-arg]
        __import__("runyard.schemas", fromlist=["StackCreate"]).StackCreate(
            name=f"with-{flavor}",
            components={"orchestrator": "default", "artifact_store": "default", "log_backend": f"logs-{flavor}"},
        )
    )


def test_database_backend_stores_and_serves_lines(database_url: str) -> None:
    _stack_with_log_backend("database")
    run = chatter.with_options(stack="with-database")(n=4)
    assert run.status == "completed"
    page = Client().api.read_logs(run.id, LogQuery(step="chatty"))
    assert [line.message for line in page.lines] == [f"db line {i}" for i in range(4)] + ["an error record"]
    assert page.lines[-1].level == "ERROR" and page.lines[-1].logger == "chatty"
    assert page.complete
    errors_only = Client().api.read_logs(run.id, LogQuery(step="chatty", level="ERROR"))
    assert [line.message for line in errors_only.lines] == ["an error record"]
    second = Client().api.read_logs(run.id, LogQuery(step="chatty", offset=2, limit=2))
    assert [line.offset for line in second.lines] == [2, 3] and second.next_offset == 4


def test_a_retried_database_batch_is_stored_once(database_url: str) -> None:
    from runyard.schemas.logs import LogAppend, LogLineIn

    run = chatter(n=1)
    api = Client().api
    lines = [LogLineIn(time=1.0, stream="stdout", level="INFO", message=f"m{i}") for i in range(3)]
    api.append_logs(run.id, LogAppend(key="run", first_offset=0, lines=lines))
    again = api.append_logs(run.id, LogAppend(key="run", first_offset=0, lines=lines, complete=True))
    assert again.lines == 3 and again.complete


class _Collector(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Collector.received.append({"path": self.path, "body": json.loads(body)})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


def test_otlp_backend_exports_records_with_run_attributes() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _stack_with_log_backend("otlp", {"endpoint": f"http://127.0.0.1:{server.server_port}"})
        run = chatter.with_options(stack="with-otlp")(n=2)
    finally:
        server.shutdown()
    assert run.status == "completed"
    records = [
        rec
        for post in _Collector.received
        for rl in post["body"]["resourceLogs"]
        for sl in rl["scopeLogs"]
        for rec in sl["logRecords"]
    ]
    assert {p["path"] for p in _Collector.received} == {"/v1/logs"}
    bodies = [r["body"]["stringValue"] for r in records]
    assert "db line 0" in bodies and "an error record" in bodies
    error = next(r for r in records if r["body"]["stringValue"] == "an error record")
    assert error["severityText"] == "ERROR" and error["severityNumber"] == 17
    attrs = {a["key"]: a["value"]["stringValue"] for a in error["attributes"]}
    assert attrs["runyard.run_id"] == str(run.id)
