"""Log capture benchmarks (issue: step logs), printed as figures and ratios.

1. Overhead: a step printing 1,000,000 short lines, with capture on vs off (RUNYARD_CAPTURE_LOGS=0), each
   as a fresh process with stdout sent to /dev/null. Target: at most 1.5x.
2. Latency: a step prints a timestamped line every 100 ms for ~10 s while a client follows the run's
   Server-Sent Events stream through a real Workspace Server on loopback; each line's arrival time minus
   the time it was printed. Target: p95 at most 1.5 s.

    .venv/bin/python benchmarks/log_bench.py [--lines 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

NOISY = """
import sys
from runyard import step, pipeline

@step(enable_cache=False)
def noisy(n: int) -> int:
    for i in range(n):
        print("line", i)
    return n

@pipeline(enable_cache=False)
def loud(n: int):
    noisy(n=n)

loud(n=int(sys.argv[1]))
"""

TICKER = """
import sys, time
from runyard import step, pipeline

@step(enable_cache=False)
def ticker(n: int) -> int:
    for i in range(n):
        print(f"mark {time.time():.6f}", flush=True)
        time.sleep(0.1)
    return n

@pipeline(enable_cache=False)
def ticking(n: int):
    ticker(n=n)

ticking(n=int(sys.argv[1]))
"""


def _run(script: Path, args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, str(script), *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def overhead(work: Path, lines: int, repeat: int) -> None:
    script = work / "noisy.py"
    script.write_text(textwrap.dedent(NOISY))
    times: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(repeat):
        for mode in ("off", "on"):  # interleaved, so machine noise hits both alike
            env = {**os.environ, "RUNYARD_HOME": str(work / f"home-{mode}"),
                   "RUNYARD_CAPTURE_LOGS": "1" if mode == "on" else "0"}
            env.pop("RUNYARD_URL", None)
            times[mode].append(_run(script, [str(lines)], env))
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    print(f"\n1. {lines:,} printed lines, fresh process (median of {repeat}):")
    print(f"   capture off  min {min(times['off']):.2f}s  median {off:.2f}s  max {max(times['off']):.2f}s")
    print(f"   capture on   min {min(times['on']):.2f}s  median {on:.2f}s  max {max(times['on']):.2f}s")
    ratio = on / off
    print(f"   ratio on/off = {ratio:.2f}x  (target <= 1.5x: {'PASS' if ratio <= 1.5 else 'MISS'})")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def latency(work: Path, ticks: int) -> None:
    import httpx
    import uvicorn

    from runyard.workspace.app import create_app

    db_url = f"sqlite:///{work / 'server.db'}"
    # server and runner share RUNYARD_HOME: the default local artifact store (where logs go) lives there
    os.environ["RUNYARD_HOME"] = str(work / "home-shared")
    from runyard.settings import get_settings

    get_settings.cache_clear()
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(db_url), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    while not server.started:
        time.sleep(0.05)
    script = work / "ticker.py"
    script.write_text(textwrap.dedent(TICKER))
    env = {**os.environ, "RUNYARD_URL": base}
    proc = subprocess.Popen([sys.executable, str(script), str(ticks)], env=env, stdout=subprocess.DEVNULL)
    delays: list[float] = []
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            run_id = None
            deadline = time.time() + 30
            while run_id is None and time.time() < deadline:
                items = client.get("/api/v1/runs", params={"pipeline": "ticking"}).json()["items"]
                if items and client.get(f"/api/v1/runs/{items[0]['id']}/logs", params={"step": "ticker"}).is_success:
                    run_id = items[0]["id"]
                time.sleep(0.05)
            assert run_id, "the run did not start"
            with client.stream("GET", f"/api/v1/runs/{run_id}/logs/stream", params={"step": "ticker"}) as events:
                for line in events.iter_lines():
                    if line.startswith("data: ") and '"mark ' in line:
                        message = json.loads(line[6:])["message"]
                        delays.append(time.time() - float(message.split()[1]))
    finally:
        proc.wait(timeout=60)
        server.should_exit = True
        thread.join(timeout=10)
    delays.sort()
    p50 = delays[len(delays) // 2]
    p95 = delays[int(len(delays) * 0.95) - 1]
    print(f"\n2. print -> line on the SSE follow stream through the server ({len(delays)} lines):")
    print(f"   p50 {p50 * 1000:.0f} ms  p95 {p95 * 1000:.0f} ms  max {delays[-1] * 1000:.0f} ms"
          f"  (target p95 <= 1500 ms: {'PASS' if p95 <= 1.5 else 'MISS'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ticks", type=int, default=100)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"Log benchmarks on {os.cpu_count()} cores, load average {load:.2f}")
    with tempfile.TemporaryDirectory(prefix="runyard-logbench-") as tmp:
        work = Path(tmp)
        overhead(work, args.lines, args.repeat)
        latency(work, args.ticks)


if __name__ == "__main__":
    main()
