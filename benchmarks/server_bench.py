"""The Workspace Server at millions of runs: latency and throughput over real HTTP, and ZenML's server beside it.

    .venv/bin/python benchmarks/server_bench.py                        # seeds 1,000,000 runs on PostgreSQL first
    .venv/bin/python benchmarks/seed.py --keep --manifest .bench/seed-1m.json
    .venv/bin/python benchmarks/server_bench.py --manifest .bench/seed-1m.json     # reuse that seed
    .venv/bin/python benchmarks/server_bench.py --runs 50000 --no-zenml --duration 5 --rounds 2   # quick look

The server is ``runyard.workspace.app:create_app`` under uvicorn in a subprocess on a free loopback port
(``--workers``, default 2; the database URL goes in as ``RUNYARD_DATABASE_URL``), started the way
``runyard up --workers N`` starts it: TCP_NODELAY set on the shared listening socket (``LAUNCHER``), since
plain ``uvicorn --workers N`` leaves Nagle on and adds ~40 ms to every request (``--plain-uvicorn`` shows
it; uvicorn issue #3149). Both servers run uvicorn's ``--loop``/``--http`` choice (default ``auto``: uvloop and
httptools when the server's interpreter has them, as ``runyard up`` runs; ``--loop asyncio --http h11`` as
until session 3), access log off. Load comes from ``wrk``
(Debian's, driven by a Lua plan runner this script writes; ``apt-get install -y wrk``), or, without it or
with ``--client httpx``, from ``httpx.AsyncClient``. Each virtual user has its own connection and sends
its requests one after another; an *operation* is one request, or for (c) the three requests of a run
page, timed from the first request to the last response.

Scenarios (Runyard targets in brackets):

  (a) first page of runs: ``GET /api/v1/runs?limit=50``                                    [p95 <= 30 ms]
  (b) a page filtered by pipeline and status, cycling over 3 pipelines (the busiest, a middle one, a
      small one) x completed/failed/cancelled                                             [p95 <= 30 ms]
  (c) the run page of the 1,000-step run, as ``Run.steps`` (SDK, CLI ``runyard runs show``) reads it:
      ``GET /runs/{id}`` + ``GET /runs/{id}/steps?limit=500`` (2 pages, the second with the first's cursor):
      every step, in run order, with its input/output artifact versions by id and each version once per
      page (``artifact_versions``); ``--run-page-route steps`` measures ``GET /steps?run_id=..`` instead,
      the older route that writes each version inline under its producer and its consumer  [p95 <= 100 ms]
  (d) runners reporting steps: ``--runners`` users each create step runs (``POST /steps``, pending), then
      ``PATCH`` each running -> completed, one after the other, all users at once          [>= 1,500 updates/s]
  (e) a 50-step ``@step``/``@pipeline`` chain run through the server (``RUNYARD_URL``) in a subprocess,
      timed in-process after a warm-up: (t50 - t1) / 49, median of ``--chain-reps`` pairs    [<= 15 ms/step]
      (the same chain on the embedded SQLite workspace is timed beside it, for reference)

(a)-(c) run at 1 user (latency) and at ``--users`` users (throughput), each pass ``--duration`` seconds
after a 2 s warm-up, ``--rounds`` times, the targets' servers interleaved round by round (the machine is
shared: noise lands on all of them). Verdicts use the median over rounds of each pass's p95 at 1 user;
the minimum over rounds is printed beside it.

ZenML 0.98 (``--zenml``, on by default): its server (``uvicorn zenml.zen_server.zen_server_api:app``, the
same uvicorn settings, ``NO_AUTH``) on MariaDB at 127.0.0.1:3306 (ZenML's production store is MySQL), from
a venv ``.bench/envs/zenml-server`` (``zenml[local,server]==0.98.*``, made on first use next to
``benchmarks/envs.py``'s venvs). Seeding: real ZenML pipeline runs (a ``--steps-per-run`` chain for each
pipeline name, and a ``--zenml-big-run-steps`` chain) through ZenML's own SQL store, then each real run
cloned in bulk, row by row, with every id remapped, to ``--zenml-runs`` runs (see ``ZENML_SEED``). Runyard
is then also seeded at exactly ZenML's size (same pipelines, steps, statuses mix) and both are measured
with the same plans; ratios are ZenML / Runyard at equal size, and ZenML / Runyard at full size.

Everything goes to ``.bench/server/<stamp>/``: the report (``report.md``), every sample (``results.json``),
server logs. PostgreSQL and MariaDB databases the script creates are dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import envs  # noqa: E402  (benchmarks/envs.py: the competitors' venvs)
import seed as seeding  # noqa: E402

TARGETS = {"a": 30.0, "b": 30.0, "c": 100.0}  # p95 ms at 1 user
UPDATES_TARGET = 1_500.0  # step updates per second
CHAIN_TARGET_MS = 15.0
ZENML_REQUIREMENTS = ["zenml[local,server]==0.98.*"]
MARIADB_HOST, MARIADB_PORT = "127.0.0.1", 3306
ZENML_DB_PASSWORD = "runyard-zen-bench"  # ZenML refuses a password-less URL; the user is named after its database


# ======================================================================================================
# load generation: a plan per virtual user, run by wrk (Lua) or httpx
# ======================================================================================================
@dataclass
class Req:
    method: str
    path: str
    body: str | None = None
    end: bool = True  # the last request of an operation


@dataclass
class Plan:
    users: list[list[Req]]
    once: bool = False  # each user stops at the end of its list (else it starts over until the time is up)


@dataclass
class Pass:
    """One measured pass: per-operation latencies and counts."""

    latencies: list[float]
    requests: int
    bad: int  # answers outside 2xx
    errors: int  # connection errors and timeouts
    elapsed: float  # first request to last response, s
    server_cpu: float = 0.0  # CPU seconds of the server's processes during the pass
    db_cpu: float = 0.0  # CPU seconds of the database server's processes (machine-wide) during the pass
    load: float = 0.0  # 1-minute load average at the end
    other_cores: float = 0.0  # cores busy with anything but the server and its database (load generator, others)
    client_cpu: float = 0.0  # CPU seconds of the load generator itself (wrk: its process; httpx: this process)

    @property
    def ops(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.ops / self.elapsed if self.elapsed > 0 else 0.0

    def pct(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000

    def summary(self) -> dict[str, float]:
        ops = max(self.ops, 1)
        return {"ops": self.ops, "requests": self.requests, "bad": self.bad, "errors": self.errors,
                "elapsed_s": round(self.elapsed, 3), "ops_per_s": round(self.rate, 1),
                "min_ms": round(min(self.latencies, default=0) * 1000, 2), "p50_ms": round(self.pct(50), 2),
                "p95_ms": round(self.pct(95), 2), "p99_ms": round(self.pct(99), 2),
                "max_ms": round(max(self.latencies, default=0) * 1000, 2),
                "server_cpu_ms_per_op": round(self.server_cpu * 1000 / ops, 3),
                "db_cpu_ms_per_op": round(self.db_cpu * 1000 / ops, 3), "load1": round(self.load, 2),
                "other_cores": round(self.other_cores, 2), "client_cpu": round(self.client_cpu, 3)}


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


WRK_LUA = r"""
-- Plan runner for wrk: one connection per thread (-t == -c), so a thread's requests are sequential.
-- Each thread reads its plan from <dir>/u<tid>.txt and times operations with CLOCK_MONOTONIC.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } ry_timespec;
int clock_gettime(int clk, ry_timespec *tp);
]]
local ts = ffi.new("ry_timespec")
local function now()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

-- set by server_bench.py; read in every Lua state (done() runs in the main one, without init())
local dir = os.getenv("RUNYARD_WRK_PLAN")
local reqs, ends, n, i, once, op_start = {}, {}, 0, 1, false, nil
lat, first_at, last_at, nreq, nbad, finished = {}, 0, 0, 0, 0, 0

function init(args)
  local f = assert(io.open(dir .. "/u" .. tid .. ".txt"))
  once = f:read("*l") == "once"
  for line in f:lines() do
    local m, p, b, e = line:match("^(%S+)\t([^\t]*)\t([^\t]*)\t(%d)$")
    n = n + 1
    local headers = {}
    if b ~= "-" then headers["Content-Type"] = "application/json" else b = nil end
    reqs[n] = wrk.format(m, p, headers, b)
    ends[n] = e == "1"
  end
  f:close()
end

function request()
  if op_start == nil then
    op_start = now()
    if first_at == 0 then first_at = op_start end
  end
  return reqs[i]
end

function response(status, headers, body)
  local t = now()
  nreq = nreq + 1
  if status < 200 or status > 299 then nbad = nbad + 1 end
  if ends[i] then
    lat[#lat + 1] = t - op_start
    op_start = nil
  end
  last_at = t
  i = i + 1
  if i > n then
    i = 1
    if once and finished == 0 then
      finished = 1
      local f = io.open(dir .. "/done-" .. tid, "w")
      f:close()
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  local out = assert(io.open(dir .. "/result.txt", "w"))
  local e = summary.errors
  out:write(string.format("summary %d %d %d\n", summary.requests, e.connect + e.read + e.write + e.timeout, e.status))
  for _, th in ipairs(threads) do
    local l = th:get("lat")
    out:write(string.format("thread %.9f %.9f %d %d\n", th:get("first_at"), th:get("last_at"),
                            th:get("nreq"), th:get("nbad")))
    local parts = {}
    for k = 1, #l do parts[k] = string.format("%.7f", l[k]) end
    out:write(table.concat(parts, " "), "\n")
  end
  out:close()
end
"""


class LoadClient:
    """Runs plans against a base URL with wrk or httpx; both report the same :class:`Pass`."""

    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        self.workdir = workdir
        self._lua = workdir / "plan.lua"
        self._lua.write_text(WRK_LUA)
        self._n = 0

    def run(self, base: str, plan: Plan, duration: float, probe: CpuProbe | None = None) -> Pass:
        if probe:
            before = probe.sample()
        busy0, t0 = machine_busy()
        own = resource.RUSAGE_CHILDREN if self.kind == "wrk" else resource.RUSAGE_SELF
        c0 = resource.getrusage(own)
        result = self._wrk(base, plan, duration) if self.kind == "wrk" else asyncio.run(
            self._httpx(base, plan, duration))
        c1 = resource.getrusage(own)
        result.client_cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
        busy1, t1 = machine_busy()
        if probe:
            after = probe.sample()
            result.server_cpu = probe.used(before[0], after[0])
            result.db_cpu = probe.used(before[1], after[1])
        result.load = os.getloadavg()[0]
        result.other_cores = max(0.0, (busy1 - busy0 - result.server_cpu - result.db_cpu) / max(t1 - t0, 1e-9))
        return result

    # --- wrk ------------------------------------------------------------------------------------------
    def _wrk(self, base: str, plan: Plan, duration: float) -> Pass:
        self._n += 1
        d = self.workdir / f"wrk-{self._n:04d}"
        d.mkdir()
        for tid, reqs in enumerate(plan.users, start=1):
            with open(d / f"u{tid}.txt", "w") as f:
                f.write("once\n" if plan.once else "cycle\n")
                for r in reqs:
                    body = r.body if r.body is not None else "-"
                    assert "\t" not in body and "\n" not in body
                    f.write(f"{r.method}\t{r.path}\t{body}\t{int(r.end)}\n")
        users = len(plan.users)
        limit = duration if not plan.once else max(duration, 600)
        cmd = ["wrk", "-t", str(users), "-c", str(users), "-d", f"{int(limit) + 1}s", "--timeout", "60s",
               "-s", str(self._lua), base + "/"]
        with open(d / "wrk.out", "w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, "RUNYARD_WRK_PLAN": str(d)})
            deadline = time.monotonic() + limit
            while proc.poll() is None:
                finished = sum(1 for _ in d.glob("done-*")) >= users if plan.once else False
                if finished or time.monotonic() > deadline:
                    proc.send_signal(signal.SIGINT)  # wrk stops, then reports (and runs done())
                    break
                time.sleep(0.05)
            proc.wait(timeout=120)
        lines = (d / "result.txt").read_text().splitlines()
        _, total, errors, _status = lines[0].split()
        lats: list[float] = []
        firsts, lasts, bad = [], [], 0
        for k in range(1, len(lines), 2):
            _, first, last, _nreq, nbad = lines[k].split()
            if float(first) > 0:
                firsts.append(float(first))
                lasts.append(float(last))
            bad += int(nbad)
            lats.extend(float(x) for x in lines[k + 1].split())
        elapsed = (max(lasts) - min(firsts)) if firsts else 0.0
        return Pass(latencies=lats, requests=int(total), bad=bad, errors=int(errors), elapsed=elapsed)

    # --- httpx ----------------------------------------------------------------------------------------
    async def _httpx(self, base: str, plan: Plan, duration: float) -> Pass:
        import httpx

        lats: list[float] = []
        counts = {"requests": 0, "bad": 0, "errors": 0}
        firsts: list[float] = []
        lasts: list[float] = []
        limits = httpx.Limits(max_connections=len(plan.users), max_keepalive_connections=len(plan.users))
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
            deadline = time.perf_counter() + duration

            async def user(reqs: list[Req]) -> None:
                i, start, first, last = 0, None, 0.0, 0.0
                while time.perf_counter() < deadline or plan.once:
                    r = reqs[i]
                    if start is None:
                        start = time.perf_counter()
                        first = first or start
                    try:
                        resp = await client.request(r.method, r.path, content=r.body,
                                                    headers={"Content-Type": "application/json"} if r.body else None)
                        counts["requests"] += 1
                        if not 200 <= resp.status_code < 300:
                            counts["bad"] += 1
                    except httpx.HTTPError:
                        counts["errors"] += 1
                    last = time.perf_counter()
                    if r.end:
                        lats.append(last - start)
                        start = None
                    i += 1
                    if i == len(reqs):
                        if plan.once:
                            break
                        i = 0
                if first:
                    firsts.append(first)
                    lasts.append(last)

            await asyncio.gather(*(user(u) for u in plan.users))
        elapsed = (max(lasts) - min(firsts)) if firsts else 0.0
        return Pass(latencies=lats, requests=counts["requests"], bad=counts["bad"], errors=counts["errors"],
                    elapsed=elapsed)


# ======================================================================================================
# processes: servers, CPU accounting
# ======================================================================================================
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine_busy() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy (all cores, every process), and the monotonic time."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]  # user nice system [idle iowait] irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK"), time.monotonic()


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out.extend(int(x) for x in (task / "children").read_text().split())
    return out


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo.extend(_children(p))
    return pids


def _procs_named(names: tuple[str, ...]) -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                if (d / "comm").read_text().strip() in names:
                    found.append(int(d.name))
    return found


def pg_backends(database_url: str) -> Callable[[], list[int]]:
    """The pids of the PostgreSQL backends connected to this database (the server's pool)."""
    name = database_url.rsplit("/", 1)[1]

    def pids() -> list[int]:
        import psycopg

        with psycopg.connect(seeding.DEFAULT_PG_ADMIN, autocommit=True) as conn:
            return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))]

    return pids


def processes_named(*names: str) -> Callable[[], list[int]]:
    return lambda: _procs_named(names)


class CpuProbe:
    """CPU seconds used so far by a server's process tree, and by its database's server processes."""

    def __init__(self, pid: int, db_pids: Callable[[], list[int]]) -> None:
        self.pid = pid
        self.db_pids = db_pids

    def sample(self) -> tuple[dict[int, float], dict[int, float]]:
        return {p: _proc_cpu(p) for p in _tree(self.pid)}, {p: _proc_cpu(p) for p in self.db_pids()}

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float:
        """CPU seconds between two samples; a process that ended in between is not counted (never < 0)."""
        return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())

    def wait_idle(self, threshold: float = 0.1, timeout: float = 60.0) -> float:
        """Waits until the server uses < ``threshold`` of a core over 0.5 s (e.g. still answering requests a
        client gave up on); returns the seconds waited."""
        start = time.monotonic()
        before = self.sample()[0]
        while time.monotonic() - start < timeout:
            time.sleep(0.5)
            after = self.sample()[0]
            if self.used(before, after) < threshold * 0.5:
                break
            before = after
        return time.monotonic() - start


LAUNCHER = r'''
"""uvicorn.run(app, workers=N, loop=L, http=H), with TCP_NODELAY on the listening socket (as `runyard up` sets it).

uvicorn binds the socket its workers share without IPPROTO_TCP, so asyncio never sets TCP_NODELAY on
accepted connections (uvicorn issue #3149): every response body then waits for the client's delayed ACK,
+40 ms per request. Accepted sockets inherit TCP_NODELAY from the listener.
"""
import socket, sys
import uvicorn
from uvicorn.supervisors import Multiprocess

if __name__ == "__main__":  # the workers are spawned: they import this file again
    app, factory, port, workers = sys.argv[1], sys.argv[2] == "factory", int(sys.argv[3]), int(sys.argv[4])
    loop, http = sys.argv[5], sys.argv[6]  # "auto": uvloop and httptools when installed (as `runyard up`)
    config = uvicorn.Config(app, factory=factory, host="127.0.0.1", port=port, workers=workers, loop=loop,
                            http=http, access_log=False, log_level="warning", server_header=False)
    if workers == 1:
        uvicorn.Server(config).run()
    else:
        sock = config.bind_socket()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        Multiprocess(config, sockets=[sock]).run()
'''


class Server:
    """A uvicorn server in its own process group, stopped by its pid at the end.

    Started by :data:`LAUNCHER` (TCP_NODELAY on), or with ``plain=True`` by ``python -m uvicorn``.
    """

    def __init__(self, name: str, python: str, app: str, factory: bool, env: dict[str, str], workers: int,
                 work: Path, log: Path, db_pids: Callable[[], list[int]], cwd: Path | None = None,
                 plain: bool = False, stack: HttpStack | None = None) -> None:
        stack = stack or HttpStack()
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        if plain:
            cmd = [python, "-m", "uvicorn", app, *(["--factory"] if factory else []), "--host", "127.0.0.1",
                   "--port", str(self.port), "--workers", str(workers), "--loop", stack.loop, "--http", stack.http,
                   "--no-access-log", "--log-level", "warning", "--no-server-header"]
        else:
            launcher = work / "launch_uvicorn.py"
            launcher.write_text(LAUNCHER)
            cmd = [python, str(launcher), app, "factory" if factory else "app", str(self.port), str(workers),
                   stack.loop, stack.http]
        self._out = open(log, "w")  # noqa: SIM115  (closed in stop())
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._out, stderr=subprocess.STDOUT, cwd=cwd,
                                     start_new_session=True)
        self.probe = CpuProbe(self.proc.pid, db_pids)

    def wait_ready(self, path: str = "/health", timeout: float = 180) -> None:
        """Returns once ``path`` answers 200; otherwise stops the server (its whole process group) and raises."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"{self.name} server exited ({self.proc.returncode}); see {self.log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + path, timeout=5).status_code == 200:
                    return
            time.sleep(0.5)
        self.stop()  # e.g. a supervisor that keeps restarting workers that fail
        raise RuntimeError(f"{self.name} server not ready after {timeout:.0f}s; see {self.log}")

    def stop(self) -> None:
        """Stops the process group this script created for the server (workers included)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._out.close()


@dataclass(frozen=True)
class HttpStack:
    """uvicorn's event loop and HTTP parser; "auto" takes uvloop and httptools when installed, as ``runyard up``
    does (``runyard[server]`` installs them), "asyncio" / "h11" the pure-Python ones."""

    loop: str = "auto"
    http: str = "auto"

    def describe(self, python: str = sys.executable) -> str:
        """What "auto" resolves to under ``python`` (the interpreter that runs the server)."""
        probe = ("import importlib.util as u; print(bool(u.find_spec('uvloop')), bool(u.find_spec('httptools')))")
        out = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
        loop = self.loop if self.loop != "auto" else ("uvloop" if out[0] == "True" else "asyncio")
        http = self.http if self.http != "auto" else ("httptools" if out[1] == "True" else "h11")
        return f"{loop} loop, {http}"


def start_runyard(url: str, workers: int, work: Path, label: str, plain: bool = False,
                  stack: HttpStack | None = None) -> Server:
    env = envs.clean_env()
    env.update(RUNYARD_DATABASE_URL=url, RUNYARD_HOME=str(work / f"home-{label}"), RUNYARD_AUTH="none",
               PYTHONPATH=str(REPO / "src"))
    server = Server(f"Runyard ({label})", sys.executable, "runyard.workspace.app:create_app", True, env, workers,
                    work, work / f"server-runyard-{label}.log", pg_backends(url), plain=plain, stack=stack)
    server.wait_ready()
    return server


# ======================================================================================================
# Runyard plans
# ======================================================================================================
def _spread(paths: list[Req], users: int) -> list[list[Req]]:
    """Every user cycles over the same requests, each starting at a different one."""
    return [paths[k % len(paths):] + paths[: k % len(paths)] for k in range(users)]


def filter_choices(pipelines: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str]]:
    """3 pipelines (the busiest, a middle one, a small one) x 3 statuses: 9 filtered pages."""
    ordered = sorted(pipelines, key=lambda p: -p["runs"])
    picks = [ordered[0], ordered[len(ordered) // 2], ordered[-1]] if len(ordered) >= 3 else ordered
    return [(p, s) for p in picks for s in ("completed", "failed", "cancelled")]


def runyard_plans(base: str, manifest: dict[str, Any], users: int, run_page_route: str = "run-steps"
                  ) -> dict[str, list[list[Req]]]:
    import httpx

    big = manifest["big_run"]["id"]
    # what Run.steps reads (each artifact version once per page), or the older inline route
    steps = f"/api/v1/runs/{big}/steps?limit=500" if run_page_route == "run-steps" else \
        f"/api/v1/steps?run_id={big}&limit=500"
    first = httpx.get(base + steps, timeout=60).json()
    cursor = first["next_cursor"]
    assert cursor, "the big run has fewer than 500 steps"
    filtered = [Req("GET", f"/api/v1/runs?limit=50&pipeline={p['name']}&status={s}")
                for p, s in filter_choices(manifest["pipelines"])]
    page = [Req("GET", f"/api/v1/runs/{big}", end=False), Req("GET", steps, end=False),
            Req("GET", f"{steps}&cursor={cursor}")]
    return {
        "a": [[Req("GET", "/api/v1/runs?limit=50")]] * users,
        "b": _spread(filtered, users),
        "c": [page] * users,
    }


def zenml_plans(base: str, info: dict[str, Any], users: int) -> dict[str, list[list[Req]]]:
    big = info["big_run"]["id"]
    filtered = [Req("GET", f"/api/v1/runs?size=50&sort_by=desc:created&pipeline_id={p['id']}&status={s}")
                for p, s in filter_choices(info["pipelines"])]
    steps = f"/api/v1/steps?pipeline_run_id={big}&size=500&sort_by=desc:created"
    page = [Req("GET", f"/api/v1/runs/{big}", end=False), Req("GET", f"{steps}&page=1", end=False),
            Req("GET", f"{steps}&page=2")]
    return {
        "a": [[Req("GET", "/api/v1/runs?size=50&sort_by=desc:created")]] * users,
        "b": _spread(filtered, users),
        "c": [page] * users,
    }


def check_plans(base: str, plans: dict[str, list[list[Req]]], expect_items: dict[str, int]) -> dict[str, Any]:
    """Each distinct request once: it must answer 2xx, and pages must hold what the scenario says."""
    import httpx

    seen: dict[str, Any] = {}
    for users in plans.values():
        for r in {r.path: r for u in users for r in u}.values():
            resp = httpx.request(r.method, base + r.path, timeout=120)
            if resp.status_code != 200:
                raise RuntimeError(f"{base}{r.path} answered {resp.status_code}: {resp.text[:300]}")
            body = resp.json()
            items = len(body["items"]) if "items" in body else None
            seen[r.path] = {"bytes": len(resp.content), "items": items}
    for scenario, want in expect_items.items():
        got = [seen[r.path]["items"] for r in plans[scenario][0] if seen[r.path]["items"] is not None]
        if got and max(got) < want:
            raise RuntimeError(f"scenario {scenario}: pages hold {got} items, expected {want}")
    return seen


# --- (d) runners reporting steps ----------------------------------------------------------------------
def step_updates(base: str, client: LoadClient, probe: CpuProbe, runners: int, steps_per_runner: int
                 ) -> tuple[Pass, Pass, dict[str, Any]]:
    import httpx

    with httpx.Client(base_url=base, timeout=60) as http:
        name = f"bench_runners_{uuid.uuid4().hex[:8]}"
        pid = http.post("/api/v1/pipelines", json={"name": name}).json()["id"]
        spec = {"name": name, "steps": [], "parameters": {}, "version": 1}
        snap = http.post("/api/v1/snapshots", json={"pipeline_id": pid, "spec": spec, "spec_hash": uuid.uuid4().hex})
        snap_id = snap.json()["id"]
        run_ids = [http.post("/api/v1/runs", json={"snapshot_id": snap_id, "status": "running"}).json()["id"]
                   for _ in range(runners)]
    step_ids = [[str(uuid.uuid4()) for _ in range(steps_per_runner)] for _ in range(runners)]
    create = Plan(once=True, users=[
        [Req("POST", "/api/v1/steps", json.dumps({"id": sid, "run_id": rid, "invocation_id": f"step_{k}",
                                                 "step_name": "work", "status": "pending"}))
         for k, sid in enumerate(sids)]
        for rid, sids in zip(run_ids, step_ids, strict=True)])
    update = Plan(once=True, users=[
        [r for sid in sids for r in (Req("PATCH", f"/api/v1/steps/{sid}", '{"status":"running"}'),
                                     Req("PATCH", f"/api/v1/steps/{sid}", '{"status":"completed"}'))]
        for sids in step_ids])
    created = client.run(base, create, 600, probe)
    updated = client.run(base, update, 600, probe)
    with httpx.Client(base_url=base, timeout=60) as http:
        done = 0
        for rid in run_ids:
            cursor = None
            while True:
                page = http.get("/api/v1/steps", params={"run_id": rid, "limit": 500, "status": "completed",
                                                        **({"cursor": cursor} if cursor else {})}).json()
                done += len(page["items"])
                cursor = page["next_cursor"]
                if not cursor:
                    break
    return created, updated, {"runs": runners, "steps": runners * steps_per_runner, "completed_in_db": done}


# --- (e) a pipeline through the server ----------------------------------------------------------------
CHAIN_SCRIPT = r'''
"""A chain of trivial steps, timed in-process: warm-up, then --reps pairs of (1-step, N-step) runs."""
import json, sys, time
from runyard import pipeline, step

N, REPS = int(sys.argv[1]), int(sys.argv[2])


@step
def start() -> int:
    return 1


@step
def add_one(x: int) -> int:
    return x + 1


def chain_of(n):
    @pipeline(enable_cache=False, name=f"server_bench_chain_{n}")
    def chain():
        x = start()
        for _ in range(n - 1):
            x = add_one(x)
    return chain


one, many = chain_of(1), chain_of(N)
for p in (one, many):  # warm-up: imports, first statements, pipeline and snapshot registration
    assert str(p().status) == "completed"
pairs = []
for _ in range(REPS):
    t0 = time.perf_counter(); r1 = one(); t1 = time.perf_counter(); rn = many(); t2 = time.perf_counter()
    assert str(r1.status) == "completed" and str(rn.status) == "completed" and len(rn.steps) == N
    pairs.append([t1 - t0, t2 - t1])
print(json.dumps({"pairs": pairs}))
'''


def chain_overhead(work: Path, url: str | None, steps: int, reps: int, label: str) -> dict[str, Any]:
    script = work / "chain.py"
    script.write_text(CHAIN_SCRIPT)
    env = envs.clean_env()
    env.update(RUNYARD_HOME=str(work / f"chain-home-{label}"), PYTHONPATH=str(REPO / "src"))
    if url:
        env["RUNYARD_URL"] = url
    out = subprocess.run([sys.executable, str(script), str(steps), str(reps)], env=env, capture_output=True,
                         text=True, timeout=1800)
    (work / f"chain-{label}.log").write_text(out.stdout + out.stderr)
    if out.returncode != 0:
        raise RuntimeError(f"the chain run ({label}) failed; see {work / f'chain-{label}.log'}")
    pairs = json.loads(out.stdout.strip().splitlines()[-1])["pairs"]
    per_step = [(tn - t1) / (steps - 1) * 1000 for t1, tn in pairs]
    return {"label": label, "pairs": pairs, "per_step_ms": per_step,
            "t1_median_s": statistics.median(p[0] for p in pairs),
            "tn_median_s": statistics.median(p[1] for p in pairs)}


# ======================================================================================================
# ZenML: venv, MariaDB database, real runs + bulk clone, server
# ======================================================================================================
def zenml_server_python(log: Callable[[str], None]) -> Path:
    """``.bench/envs/zenml-server``: ``envs.py``'s recipe (python3 -m venv + pip), with the server extra."""
    env_dir = envs.ENVS_DIR / "zenml-server"
    py = env_dir / "bin" / "python"
    marker = env_dir / envs.MARKER
    with contextlib.suppress(OSError, ValueError):
        if py.exists() and json.loads(marker.read_text()).get("requirements") == ZENML_REQUIREMENTS:
            return py
    if env_dir.exists():
        shutil.rmtree(env_dir)
    envs.ENVS_DIR.mkdir(parents=True, exist_ok=True)
    log_path = envs.ENVS_DIR / "zenml-server-install.log"
    log(f"[envs] creating {env_dir} ({' '.join(ZENML_REQUIREMENTS)}); log: {log_path}")
    with open(log_path, "w") as out:
        for cmd in ([envs._base_python(), "-m", "venv", str(env_dir)],
                    [str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"],
                    [str(py), "-m", "pip", "install", *ZENML_REQUIREMENTS]):
            out.write(f"$ {' '.join(cmd)}\n")
            out.flush()
            if subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT) != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed; see {log_path}")
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps({n: m.version(n) for n in ('zenml', 'fastapi', 'uvicorn', 'sqlalchemy')}))")
    versions = json.loads(subprocess.run([str(py), "-c", code], capture_output=True, text=True, check=True).stdout)
    marker.write_text(json.dumps({"requirements": ZENML_REQUIREMENTS, "versions": versions}, indent=2))
    return py


def _mariadb(sql: str) -> str:
    out = subprocess.run(["mysql", "-h", MARIADB_HOST, "-P", str(MARIADB_PORT), "-u", "root", "-N", "-e", sql],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"mysql: {out.stderr.strip()}")
    return out.stdout


def create_zenml_database() -> str:
    """A new database and a user of the same name that may use only it (so runs side by side never share one)."""
    name = f"zenml_bench_{uuid.uuid4().hex[:8]}"
    _mariadb(f"CREATE DATABASE {name}; CREATE USER IF NOT EXISTS '{name}'@'%' IDENTIFIED BY "
             f"'{ZENML_DB_PASSWORD}'; GRANT ALL PRIVILEGES ON {name}.* TO '{name}'@'%';")
    return name


def drop_zenml_database(name: str) -> None:
    """Drops the database and the user made for it (with its grants)."""
    _mariadb(f"DROP DATABASE IF EXISTS {name}; DROP USER IF EXISTS '{name}'@'%';")


def zenml_env(work: Path, db: str) -> dict[str, str]:
    env = envs.clean_env()
    env.update(
        ZENML_STORE_URL=f"mysql://{db}:{ZENML_DB_PASSWORD}@{MARIADB_HOST}:{MARIADB_PORT}/{db}",
        ZENML_CONFIG_PATH=str(work / "zenml-config"), ZENML_ANALYTICS_OPT_IN="false",
        ZENML_LOGGING_VERBOSITY="WARN", ZENML_ENABLE_RICH_TRACEBACK="false", XDG_CONFIG_HOME=str(work / "xdg-config"),
        XDG_DATA_HOME=str(work / "xdg-data"), XDG_CACHE_HOME=str(work / "xdg-cache"),
        ZENML_SERVER_AUTH_SCHEME="NO_AUTH", ZENML_SERVER_JWT_SECRET_KEY=uuid.uuid4().hex,
    )
    return env


ZENML_SEED = r'''
"""Seeds a ZenML store: real pipeline runs through ZenML's own SQL store, then clones of them in bulk.

argv[1] is a JSON config. Each real run's rows (pipeline_run, its step_run rows, the step parents, input
and output artifact links, log entries) are read back and copied with every id remapped and timestamps
shifted; the artifact versions themselves are shared with the template run. Prints a JSON summary.
"""
import json, random, sys, time, uuid
from datetime import datetime, timedelta

cfg = json.loads(sys.argv[1])
from zenml import pipeline, step


@step(enable_cache=False)
def start() -> int:
    return 1


@step(enable_cache=False)
def add_one(x: int) -> int:
    return x + 1


def chain_of(n, name):
    @pipeline(enable_cache=False, name=name)
    def chain():
        x = start()
        for _ in range(n - 1):
            x = add_one(x)
    return chain


t0 = time.time()
templates = {}
for name in cfg["pipelines"]:
    run = chain_of(cfg["steps_per_run"], name)()
    templates[name] = run.id.hex
t_real = time.time() - t0
big_id = None
t0 = time.time()
if cfg["big_run_steps"]:
    big_id = chain_of(cfg["big_run_steps"], "big_chain")().id.hex
t_big = time.time() - t0

from sqlalchemy import MetaData, create_engine, select, text

engine = create_engine(cfg["sqlalchemy_url"])
md = MetaData()
tables = ["pipeline_run", "step_run", "step_run_parents", "step_run_input_artifact", "step_run_output_artifact", "logs"]
md.reflect(engine, only=tables)
T = {t: md.tables[t] for t in tables}


def template_rows(conn, run_id):
    run = dict(conn.execute(select(T["pipeline_run"]).where(T["pipeline_run"].c.id == run_id)).mappings().one())
    def fetch(stmt):
        return [dict(r) for r in conn.execute(stmt).mappings()]

    steps = fetch(select(T["step_run"]).where(T["step_run"].c.pipeline_run_id == run_id))
    ids = [s["id"] for s in steps]
    rows = {"pipeline_run": [run], "step_run": steps}
    rows["step_run_parents"] = fetch(select(T["step_run_parents"]).where(T["step_run_parents"].c.child_id.in_(ids)))
    for t in ("step_run_input_artifact", "step_run_output_artifact"):
        rows[t] = fetch(select(T[t]).where(T[t].c.step_id.in_(ids)))
    lg = T["logs"]
    rows["logs"] = fetch(select(lg).where((lg.c.pipeline_run_id == run_id) | lg.c.step_run_id.in_(ids)))
    return rows


rng = random.Random(cfg["seed"])
names = cfg["pipelines"]
weights = [1.0 / (k + 1) ** 0.9 for k in range(len(names))]
now = datetime.utcnow()
begin = now - timedelta(days=365)
clones = max(0, cfg["runs"] - len(names) - (1 if big_id else 0))
spacing = timedelta(days=364) / max(clones, 1)
counts = {t: 0 for t in tables}
statuses = {}
t0 = time.time()
with engine.begin() as conn:
    conn.execute(text("SET foreign_key_checks = 0"))
    tpl = {n: template_rows(conn, templates[n]) for n in names}
    index = {n: 1 for n in names}
    batch = {t: [] for t in tables}

    def flush():
        for t in tables:  # parents before children
            if batch[t]:
                conn.execute(T[t].insert(), batch[t])
                counts[t] += len(batch[t])
                batch[t].clear()

    picks = rng.choices(names, weights=weights, k=clones)
    for i, name in enumerate(picks):
        src = tpl[name]
        created = begin + spacing * i + timedelta(seconds=rng.random())
        shift = created - src["pipeline_run"][0]["created"]
        idmap = {src["pipeline_run"][0]["id"]: uuid.uuid4().hex}
        for s in src["step_run"]:
            idmap[s["id"]] = uuid.uuid4().hex
        for lgr in src["logs"]:
            idmap[lgr["id"]] = uuid.uuid4().hex
        r = rng.random()
        status = "failed" if r < 0.05 else "cancelled" if r < 0.07 else "completed"
        statuses.setdefault(name, {}).setdefault(status, 0)
        statuses[name][status] += 1
        index[name] += 1
        for t, rows in src.items():
            for row in rows:
                new = {k: (idmap.get(v, v) if isinstance(v, str) else (v + shift if isinstance(v, datetime) else v))
                       for k, v in row.items()}
                if t == "pipeline_run":
                    new["name"] = f"{name}-{created:%Y_%m_%d-%H_%M_%S_%f}"
                    new["status"] = status
                    new["in_progress"] = False
                    new["index"] = index[name]
                    new["orchestrator_run_id"] = uuid.uuid4().hex
                batch[t].append(new)
        if len(batch["step_run"]) >= 5000:
            flush()
    flush()
    conn.execute(text("SET foreign_key_checks = 1"))
with engine.begin() as conn:
    for t in tables:
        conn.execute(text(f"ANALYZE TABLE `{t}`"))
    pr = T["pipeline_run"]
    ids = {n: conn.execute(select(pr.c.pipeline_id).where(pr.c.id == templates[n])).scalar() for n in names}
    total_runs = conn.execute(text("SELECT COUNT(*) FROM pipeline_run")).scalar()
    total_steps = conn.execute(text("SELECT COUNT(*) FROM step_run")).scalar()
t_clone = time.time() - t0
for n in names:
    statuses.setdefault(n, {}).setdefault("completed", 0)
    statuses[n]["completed"] += 1
print(json.dumps({
    "real_runs_s": round(t_real, 1), "big_run_s": round(t_big, 1), "clone_s": round(t_clone, 1),
    "runs": total_runs, "steps": total_steps, "cloned_rows": counts,
    "big_run": {"id": str(uuid.UUID(big_id)), "steps": cfg["big_run_steps"]} if big_id else None,
    "pipelines": [{"name": n, "id": str(uuid.UUID(ids[n])), "runs": sum(statuses[n].values()),
                   "statuses": statuses[n]} for n in names],
}))
'''


@dataclass
class ZenmlSetup:
    db: str
    python: Path
    env: dict[str, str]
    repo: Path
    info: dict[str, Any] = field(default_factory=dict)


def seed_zenml(work: Path, db: str, runs: int, steps_per_run: int, pipelines: list[str], big_steps: int,
               log: Callable[[str], None]) -> ZenmlSetup:
    """Fills the (new, empty) MariaDB database ``db`` through ZenML: see ``ZENML_SEED``."""
    py = zenml_server_python(log)
    env = zenml_env(work, db)
    repo = work / "zenml-repo"
    repo.mkdir()
    subprocess.run([str(py.parent / "zenml"), "init"], cwd=repo, env=env, capture_output=True, check=False)
    (repo / "zenml_seed.py").write_text(ZENML_SEED)
    cfg = {"pipelines": pipelines, "steps_per_run": steps_per_run, "big_run_steps": big_steps, "runs": runs,
           "seed": 20261127, "sqlalchemy_url": env["ZENML_STORE_URL"].replace("mysql://", "mysql+pymysql://", 1)}
    log(f"ZenML: {len(pipelines)} real {steps_per_run}-step runs and a real {big_steps}-step run through its SQL "
        f"store on MariaDB ({db}), then clones up to {runs:,} runs ...")
    t0 = time.perf_counter()
    out = subprocess.run([str(py), "zenml_seed.py", json.dumps(cfg)], cwd=repo, env=env, capture_output=True,
                         text=True, timeout=7200)
    (work / "zenml-seed.log").write_text(out.stdout + out.stderr)
    if out.returncode != 0:
        raise RuntimeError(f"seeding ZenML failed; see {work / 'zenml-seed.log'}")
    info = json.loads(out.stdout.strip().splitlines()[-1])
    info["seconds"] = round(time.perf_counter() - t0, 1)
    info["big_run_steps"] = big_steps
    (work / "zenml-seed.json").write_text(json.dumps({"db": db, "info": info}, indent=2))
    log(f"  ZenML seeded in {info['seconds']:.0f} s: {info['runs']:,} runs, {info['steps']:,} step runs "
        f"(real runs {info['real_runs_s']:.0f} s, the {big_steps}-step run {info['big_run_s']:.0f} s, "
        f"clones {info['clone_s']:.0f} s)")
    return ZenmlSetup(db=db, python=py, env=env, repo=repo, info=info)


def reuse_zenml(work: Path, path: Path, log: Callable[[str], None]) -> ZenmlSetup:
    """A ZenML store seeded by an earlier ``--keep`` run, from the ``zenml-seed.json`` that run wrote."""
    saved = json.loads(path.read_text())
    db, info = saved["db"], saved["info"]
    if not _mariadb(f"SHOW DATABASES LIKE '{db}'").strip():
        raise RuntimeError(f"{path} names the MariaDB database {db}, which no longer exists")
    py = zenml_server_python(log)
    env = zenml_env(work, db)
    repo = work / "zenml-repo"
    repo.mkdir()
    subprocess.run([str(py.parent / "zenml"), "init"], cwd=repo, env=env, capture_output=True, check=False)
    log(f"ZenML: reusing {db} ({info['runs']:,} runs, {info['steps']:,} step runs, seeded in {info['seconds']:.0f} s)")
    return ZenmlSetup(db=db, python=py, env=env, repo=repo, info=info)


def start_zenml(z: ZenmlSetup, workers: int, work: Path, plain: bool = False, stack: HttpStack | None = None
                ) -> Server:
    server = Server("ZenML", str(z.python), "zenml.zen_server.zen_server_api:app", False, z.env, workers, work,
                    work / "server-zenml.log", processes_named("mariadbd", "mysqld"), cwd=z.repo, plain=plain,
                    stack=stack)
    server.wait_ready()
    return server


# ======================================================================================================
# the run
# ======================================================================================================
@dataclass
class Target:
    key: str  # runyard | runyard-small | zenml
    label: str
    server: Server
    plans: dict[str, list[list[Req]]]
    runs: int
    big_run_steps: int = 1_000


class Report:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)
        self.path.write_text("\n".join(self.lines) + "\n")

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
        fmt = lambda r: "| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
        self(fmt(header))
        self("|" + "|".join("-" * (w + 2) for w in widths) + "|")
        for r in rows:
            self(fmt(r))


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def settle(servers: list[Server]) -> None:
    for s in servers:
        s.probe.wait_idle()


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if a > 0 and b > 0 else "n/a"


SCENARIO_TITLES = {
    "a": "(a) first page of runs (50)",
    "b": "(b) page filtered by pipeline + status (9 combinations)",
    "c": "(c) run page of the 1,000-step run: run + 2 pages of 500 steps with their artifact versions",
}


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report_scenario(report: Report, s: str, targets: list[Target], passes: dict[tuple[str, str, int], list[Pass]],
                    users: int) -> tuple[str, bool]:
    """The table of one of (a)-(c) for every target and user count, the verdict, and the ZenML ratios."""
    report(f"#### {SCENARIO_TITLES[s]}")
    report("")
    rows = []
    for t in targets:
        for n in (1, users):
            ps = passes[(s, t.key, n)]

            def med(f: Callable[[Pass], float], ps: list[Pass] = ps) -> float:
                return statistics.median(f(p) for p in ps)

            rows.append([t.label, str(n), f"{sum(p.ops for p in ps):,}",
                         f"{med(lambda p: p.pct(50)):.1f} / {med(lambda p: p.pct(95)):.1f} / "
                         f"{med(lambda p: p.pct(99)):.1f}",
                         f"{min(p.pct(95) for p in ps):.1f}", f"{med(lambda p: p.rate):,.0f}",
                         f"{med(lambda p: p.server_cpu * 1000 / max(p.ops, 1)):.1f}",
                         f"{med(lambda p: p.db_cpu * 1000 / max(p.ops, 1)):.1f}",
                         f"{med(lambda p: p.other_cores):.2f}", str(sum(p.bad + p.errors for p in ps))])
    report.table(["target", "users", "ops", "p50 / p95 / p99 ms (median of rounds)", "p95 min", "ops/s",
                  "server CPU ms/op", "DB CPU ms/op", "other CPU (cores)", "non-2xx"], rows)
    report("other CPU: cores of the 2 busy with anything but the measured server and its database during the "
           "pass (the load generator, and other people's work on this shared machine).  ")
    main_target = next(t for t in targets if t.key == "runyard")
    full = passes[(s, "runyard", 1)]
    p95 = statistics.median(p.pct(95) for p in full)
    ok = p95 <= TARGETS[s]
    report(f"Target: {main_target.label}, p95 at 1 user <= {TARGETS[s]:.0f} ms: median {p95:.1f} ms, "
           f"min {min(p.pct(95) for p in full):.1f} ms -> **{_verdict(ok)}**  ")
    loaded = statistics.median(p.pct(95) for p in passes[(s, "runyard", users)])
    report(f"(at {users} users: p95 {loaded:.1f} ms -> {_verdict(loaded <= TARGETS[s])})  ")
    zt = next((t for t in targets if t.key == "zenml"), None)
    if zt is not None:
        rows = []
        for bt in (t for t in targets if t.key != "zenml"):
            row = [f"{zt.label} / {bt.label}"]
            for n in (1, users):
                z_ps, r_ps = passes[(s, zt.key, n)], passes[(s, bt.key, n)]
                for q in (50, 95):
                    row.append(_ratio(statistics.median(x.pct(q) for x in z_ps),
                                      statistics.median(x.pct(q) for x in r_ps)))
                row.append(_ratio(statistics.median(x.rate for x in r_ps), statistics.median(x.rate for x in z_ps)))
            rows.append(row)
        report("Ratios (medians of rounds): latency ZenML / Runyard, throughput Runyard / ZenML  ")
        report("")
        report.table(["", "p50 @1", "p95 @1", "ops/s @1", f"p50 @{users}", f"p95 @{users}", f"ops/s @{users}"], rows)
    report("")
    return f"{SCENARIO_TITLES[s]}: p95 <= {TARGETS[s]:.0f} ms at 1 user", ok


def report_updates(report: Report, created: Pass, updated: Pass, check: dict[str, Any], *, runners: int
                   ) -> tuple[str, bool]:
    report(f"#### (d) {runners} runners: create {check['steps']:,} step runs, then PATCH each running -> completed")
    report("")
    rows = []
    for name, p in (("POST /steps (pending)", created), ("PATCH /steps/{id} (running, completed)", updated)):
        rows.append([name, f"{p.ops:,}", f"{p.pct(50):.1f} / {p.pct(95):.1f} / {p.pct(99):.1f}",
                     f"{p.rate:,.0f}", f"{p.server_cpu * 1000 / max(p.ops, 1):.2f}",
                     f"{p.db_cpu * 1000 / max(p.ops, 1):.2f}", f"{p.client_cpu * 1000 / max(p.ops, 1):.2f}",
                     f"{p.other_cores:.2f}", str(p.bad + p.errors)])
    report.table(["request", "requests", "p50 / p95 / p99 ms", "per s", "server CPU ms/req",
                  "PostgreSQL CPU ms/req", "load generator CPU ms/req", "other CPU (cores)", "non-2xx"], rows)
    per_update = (updated.server_cpu + updated.db_cpu) / max(updated.ops, 1)
    if per_update > 0:
        report(f"CPU bound: at {per_update * 1000:.2f} ms of server + PostgreSQL CPU per update, {os.cpu_count()} idle "
               f"cores could serve at most ~{(os.cpu_count() or 1) / per_update:,.0f} updates/s (the load generator's "
               "own CPU not counted); with the load generator's "
               f"{updated.client_cpu * 1000 / max(updated.ops, 1):.2f} ms per update on the same cores: "
               f"~{(os.cpu_count() or 1) / (per_update + updated.client_cpu / max(updated.ops, 1)):,.0f}/s.  ")
    report("Counted: status transitions, one per `PATCH /steps/{id}` answered (each moves one step run one status: "
           "pending -> running, then running -> completed; a non-2xx answer fails the verdict), per second from the "
           "pass's first request to its last answer.  ")
    ok = updated.rate >= UPDATES_TARGET and updated.bad + updated.errors == 0
    report(f"Completed step runs read back: {check['completed_in_db']:,} of {check['steps']:,}.  ")
    report(f"Target: >= {UPDATES_TARGET:,.0f} updates/s: {updated.rate:,.0f}/s -> **{_verdict(ok)}**  ")
    report("")
    return f"(d) step updates >= {UPDATES_TARGET:,.0f}/s", ok


def report_chains(report: Report, http: dict[str, Any], emb: dict[str, Any], *, steps: int, reps: int
                  ) -> tuple[str, bool]:
    report(f"#### (e) {steps}-step chain vs 1-step chain, in one process after a warm-up ({reps} pairs)")
    report("")
    rows = []
    for c, name in ((http, "through the server (RUNYARD_URL)"), (emb, "embedded SQLite (reference)")):
        ps = c["per_step_ms"]
        rows.append([name, f"{c['t1_median_s'] * 1000:.0f} ms", f"{c['tn_median_s'] * 1000:.0f} ms",
                     f"{min(ps):.2f} / {statistics.median(ps):.2f} / {max(ps):.2f}"])
    report.table(["workspace", "1 step (median)", f"{steps} steps (median)", "per step ms min / median / max"], rows)
    per = statistics.median(http["per_step_ms"])
    ok = per <= CHAIN_TARGET_MS
    report(f"HTTP / embedded per step: {per / statistics.median(emb['per_step_ms']):.1f}x  ")
    report(f"Target: <= {CHAIN_TARGET_MS:.0f} ms/step: median {per:.2f} ms (min {min(http['per_step_ms']):.2f}) "
           f"-> **{_verdict(ok)}**  ")
    report("")
    return f"(e) per-step overhead through the server <= {CHAIN_TARGET_MS:.0f} ms", ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = parser.add_argument_group("data")
    src.add_argument("--manifest", type=Path, help="reuse a database seeded by seed.py --keep (its manifest)")
    src.add_argument("--runs", type=int, default=1_000_000, help="runs to seed when no --manifest (default 1M)")
    src.add_argument("--steps-per-run", type=int, default=10, help="steps per seeded run (default 10)")
    src.add_argument("--keep", action="store_true", help="keep the databases this script creates")
    load = parser.add_argument_group("load")
    load.add_argument("--workers", type=int, default=2, help="uvicorn workers per server (default 2)")
    load.add_argument("--plain-uvicorn", action="store_true",
                      help="start servers with `python -m uvicorn --workers N` as is, without TCP_NODELAY on the "
                      "shared socket (shows uvicorn issue #3149: +40 ms per request with --workers > 1)")
    load.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto",
                      help="uvicorn's event loop (default auto: uvloop when installed, as `runyard up`)")
    load.add_argument("--http", choices=("auto", "h11", "httptools"), default="auto",
                      help="uvicorn's HTTP parser (default auto: httptools when installed, as `runyard up`)")
    load.add_argument("--client", choices=("auto", "wrk", "httpx"), default="auto",
                      help="load generator (default: wrk if installed, else httpx)")
    load.add_argument("--users", type=int, default=8, help="users of the throughput passes (default 8)")
    load.add_argument("--duration", type=float, default=10.0, help="seconds per pass (default 10)")
    load.add_argument("--rounds", type=int, default=3, help="repetitions of every pass, interleaved (default 3)")
    load.add_argument("--runners", type=int, default=16, help="(d) concurrent runners (default 16)")
    load.add_argument("--steps-per-runner", type=int, default=750,
                      help="(d) step runs each runner creates then moves running -> completed (default 750)")
    load.add_argument("--chain-steps", type=int, default=50, help="(e) steps of the long chain (default 50)")
    load.add_argument("--chain-reps", type=int, default=7, help="(e) timed (1-step, N-step) pairs (default 7)")
    load.add_argument("--run-page-route", choices=("run-steps", "steps"), default="run-steps",
                      help="(c): GET /runs/{id}/steps (what Run.steps reads, default) or the older GET /steps")
    load.add_argument("--only", default="a,b,c,d,e", help="scenarios to run (default a,b,c,d,e)")
    zen = parser.add_argument_group("ZenML")
    zen.add_argument("--no-zenml", dest="zenml", action="store_false", help="skip the ZenML comparison")
    zen.add_argument("--zenml-runs", type=int, default=10_000, help="runs in ZenML's store (default 10,000)")
    zen.add_argument("--zenml-big-run-steps", type=int, default=1_000,
                     help="steps of ZenML's big run, run for real (default 1,000)")
    zen.add_argument("--zenml-seed", type=Path, metavar="JSON",
                     help="reuse the ZenML store an earlier run kept (--keep): the zenml-seed.json it wrote in "
                     ".bench/server/<stamp>/")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "httpx"
    elif args.client == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install -y wrk), use --client httpx")

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    work = REPO / ".bench" / "server" / stamp
    work.mkdir(parents=True)
    report = Report(work / "report.md")
    client = LoadClient(args.client, work)
    results: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "passes": []}
    cleanup: list[Callable[[], None]] = []
    servers: list[Server] = []
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        report(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} cores, {memory:.0f} GiB; "
               f"Python {sys.version.split()[0]}")
        report(f"load average at start: {_loadavg()}  ")
        stack = HttpStack(args.loop, args.http)
        report(f"client: {args.client}; servers: uvicorn, {args.workers} worker(s) each, --loop {args.loop} "
               f"--http {args.http} (Runyard: {stack.describe()}), "
               f"{'plain `uvicorn --workers`' if args.plain_uvicorn else 'TCP_NODELAY on the listening socket'}  ")

        # --- data ------------------------------------------------------------------------------------
        if args.manifest:
            manifest = json.loads(args.manifest.read_text())
            report(f"Runyard data: {args.manifest} ({manifest['rows']['runs']:,} runs, "
                   f"{manifest['rows']['step_runs']:,} step runs, seeded in {manifest['seconds']:.0f} s)  ")
        else:
            name, dsn = seeding.create_pg_database()
            if not args.keep:
                cleanup.append(functools.partial(seeding.drop_pg_database, name))
            manifest = seeding.seed(dsn, seeding.SeedConfig(runs=args.runs, steps_per_run=args.steps_per_run),
                                    log=report)
            seeding.print_summary(manifest, log=report)
        results["manifest"] = manifest
        targets: list[Target] = []
        big_target = Target("runyard", f"Runyard, {manifest['rows']['runs']:,} runs",
                            start_runyard(manifest["database_url"], args.workers, work, "full", args.plain_uvicorn,
                                          stack), {},
                            manifest["rows"]["runs"])
        servers.append(big_target.server)
        big_target.plans = runyard_plans(big_target.server.base, manifest, args.users, args.run_page_route)
        targets.append(big_target)

        zenml_error: str | None = None
        if args.zenml and only & {"a", "b", "c"}:
            try:
                names = [p["name"] for p in sorted(manifest["pipelines"], key=lambda p: -p["runs"])]
                if args.zenml_seed:
                    z = reuse_zenml(work, args.zenml_seed, report)
                    args.zenml_big_run_steps = z.info["big_run_steps"]
                else:
                    zdb = create_zenml_database()
                    if not args.keep:
                        cleanup.append(functools.partial(drop_zenml_database, zdb))
                    z = seed_zenml(work, zdb, args.zenml_runs, args.steps_per_run, names, args.zenml_big_run_steps,
                                   report)
                results["zenml_seed"] = z.info
                zs = start_zenml(z, args.workers, work, args.plain_uvicorn, stack)
                servers.append(zs)
                zt = Target("zenml", f"ZenML, {z.info['runs']:,} runs", zs, zenml_plans(zs.base, z.info, args.users),
                            z.info["runs"], args.zenml_big_run_steps)
                # Runyard at ZenML's size: same pipeline names, statuses mix, 10-step runs, a big run
                sname, sdsn = seeding.create_pg_database()
                if not args.keep:
                    cleanup.append(functools.partial(seeding.drop_pg_database, sname))
                small = seeding.seed(sdsn, seeding.SeedConfig(
                    runs=z.info["runs"] - 1, steps_per_run=args.steps_per_run,
                    pipelines=len(manifest["pipelines"]), big_run_steps=args.zenml_big_run_steps), log=lambda _: None)
                results["small_manifest"] = small
                ss = start_runyard(small["database_url"], args.workers, work, "small", args.plain_uvicorn, stack)
                servers.append(ss)
                small_plans = runyard_plans(ss.base, small, args.users, args.run_page_route)
                targets.insert(1, Target("runyard-small", f"Runyard, {small['rows']['runs']:,} runs", ss,
                                         small_plans, small["rows"]["runs"], args.zenml_big_run_steps))
                targets.append(zt)
            except Exception as exc:  # reported, the rest still runs
                zenml_error = f"{type(exc).__name__}: {exc}"
                report(f"ZenML could not be measured: {zenml_error}")
        report(f"targets: {', '.join(t.label for t in targets)}  ")
        for t in targets:
            check_plans(t.server.base, t.plans, {"a": 50, "c": min(500, t.big_run_steps)})

        # --- (a)-(c), interleaved ---------------------------------------------------------------------
        scen = [s for s in "abc" if s in only]
        passes: dict[tuple[str, str, int], list[Pass]] = {}
        for s in scen:
            report(f"measuring {SCENARIO_TITLES[s]} ...")
            for t in targets:  # warm-up, not recorded
                client.run(t.server.base, Plan(users=t.plans[s][: args.users]), 2.0)
            for rnd in range(args.rounds):
                for users in (1, args.users):
                    for t in targets:
                        settle(servers)  # none still busy with requests the last pass gave up on
                        p = client.run(t.server.base, Plan(users=t.plans[s][:users]), args.duration, t.server.probe)
                        passes.setdefault((s, t.key, users), []).append(p)
                        results["passes"].append({"scenario": s, "target": t.key, "users": users, "round": rnd + 1,
                                                  **p.summary()})
        # --- (d) --------------------------------------------------------------------------------------
        updates = None
        if "d" in only:
            report("measuring (d) step creates and status updates ...")
            settle(servers)
            created, updated, check = step_updates(big_target.server.base, client, big_target.server.probe,
                                                   args.runners, args.steps_per_runner)
            updates = (created, updated, check)
            results["updates"] = {"create": created.summary(), "update": updated.summary(), "check": check}
        # --- (e) --------------------------------------------------------------------------------------
        chains = None
        if "e" in only:
            report("measuring (e) the chain through the server and embedded ...")
            settle(servers)
            chains = (chain_overhead(work, big_target.server.base, args.chain_steps, args.chain_reps, "http"),
                      chain_overhead(work, None, args.chain_steps, args.chain_reps, "embedded"))
            results["chains"] = chains

        # --- report -----------------------------------------------------------------------------------
        verdicts: list[tuple[str, bool]] = []
        report("")
        for s in scen:
            verdicts.append(report_scenario(report, s, targets, passes, args.users))
        if updates:
            verdicts.append(report_updates(report, *updates, runners=args.runners))
        if chains:
            verdicts.append(report_chains(report, *chains, steps=args.chain_steps, reps=args.chain_reps))
        report("#### Verdicts")
        report("")
        for what, ok in verdicts:
            report(f"- {what}: **{_verdict(ok)}**")
        if zenml_error:
            report(f"- ZenML comparison: not measured ({zenml_error})")
        report("")
        report(f"load average at end: {_loadavg()}  ")
        results["verdicts"] = verdicts
        (work / "results.json").write_text(json.dumps(results, indent=2, default=str))
        report(f"samples: {work / 'results.json'}; logs: {work}")
    finally:
        for server in servers:
            server.stop()
        for fn in reversed(cleanup):
            with contextlib.suppress(Exception):
                fn()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
