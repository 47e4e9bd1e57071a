"""The ``otlp`` log backend: exports log records to an OpenTelemetry collector (OTLP/HTTP, JSON).

Export-only: Runyard cannot read these lines back; `runyard run logs` says so and points at the collector.
Each record carries the run and step ids as attributes, so they can be found there.
"""

from __future__ import annotations

import uuid
from typing import Any

from runyard.logs.backends.base import LogBackend, LogRange
from runyard.logs.records import decode_batch

_SEVERITY = {"DEBUG": 5, "INFO": 9, "WARNING": 13, "ERROR": 17, "CRITICAL": 21}


class OTLPLogBackend(LogBackend):
    flavor = "otlp"
    readable = False

    def __init__(self, *, endpoint: str, headers: dict[str, str] | None = None, service_name: str = "runyard",
                 timeout: float = 10.0, **_: Any) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.headers = headers or {}
        self.service_name = service_name
        self.timeout = timeout

    def open_writer(self, run_id: uuid.UUID, key: str) -> OTLPWriter:
        return OTLPWriter(self, run_id, key)

    def read(self, run_id: uuid.UUID, key: str, *, offset: int = 0, limit: int = 1000) -> LogRange:
        raise NotImplementedError("OTLP logs are export-only; read them in your collector's backend.")


class OTLPWriter:
    def __init__(self, backend: OTLPLogBackend, run_id: uuid.UUID, key: str) -> None:
        self.backend = backend
        self.run_id = run_id
        self.key = key
        self._records: list[dict[str, Any]] = []

    def append(self, data: str, lines: int) -> None:
        for raw in data.splitlines():
            t, stream, level, logger, messages = decode_batch(raw)
            for message in messages:
                attributes = [
                    _attr("runyard.run_id", str(self.run_id)),
                    _attr("runyard.log", self.key),
                    _attr("runyard.stream", stream),
                ]
                if logger:
                    attributes.append(_attr("logger.name", logger))
                self._records.append({
                    "timeUnixNano": str(int(t * 1e9)),
                    "severityNumber": _SEVERITY.get(level, 9),
                    "severityText": level,
                    "body": {"stringValue": message},
                    "attributes": attributes,
                })

    def flush(self) -> None:
        if not self._records:
            return
        import httpx

        records, self._records = self._records, []
        payload = {
            "resourceLogs": [{
                "resource": {"attributes": [_attr("service.name", self.backend.service_name)]},
                "scopeLogs": [{"scope": {"name": "runyard"}, "logRecords": records}],
            }]
        }
        response = httpx.post(f"{self.backend.endpoint}/v1/logs", json=payload, headers=self.backend.headers,
                              timeout=self.backend.timeout)
        response.raise_for_status()

    def close(self) -> None:
        self.flush()


def _attr(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}
