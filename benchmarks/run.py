"""Side-by-side benchmark: Runyard vs ZenML 0.98 vs Prefect 3 vs the same functions as plain Python.

    .venv/bin/python benchmarks/run.py                  # everything, 5 repetitions
    .venv/bin/python benchmarks/run.py --quick          # 3 repetitions
    .venv/bin/python benchmarks/run.py --only runyard,plain --figures 1,4 --repeat 10

Every figure is measured as fresh processes: one subprocess per repetition, wall time seen from here
(figure 5 times inside the process, see below). Repetitions are interleaved across tools so that the
machine's noise is spread over all of them, and each (tool, variant) gets one untimed warm-up run first
(byte-code compilation, first-time database creation and migrations).

Runyard and the plain floor run on this interpreter (``make bench`` uses ``.venv/bin/python``); ZenML and
Prefect run in their own venvs under ``.bench/envs`` (see ``benchmarks/envs.py``), created on demand.
See ``benchmarks/README.md`` for what each figure measures and the targets.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import envs  # noqa: E402

PIPELINES = HERE / "pipelines"
TOOLS = ["runyard", "zenml", "prefect", "plain"]
LABEL = {"runyard": "Runyard", "zenml": "ZenML", "prefect": "Prefect", "plain": "plain Python"}
SHORT = {"runyard": "Runyard", "zenml": "ZenML", "prefect": "Prefect", "plain": "plain"}
FIGURES = [1, 2, 3, 4, 5]
CHAIN = 50
RUN_TIMEOUT = 900
QUIET_BUSY = 0.25  # "quiet" = at most this fraction of all cores busy over half a second


# --------------------------------------------------------------------------------------------------
# helpers


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def stats(xs: list[float]) -> tuple[float, float, float]:
    return min(xs), statistics.median(xs), max(xs)


def fmt_s(x: float) -> str:
    return f"{x:.3f} s"


def fmt_ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


def ratio(a: float, b: float) -> str:
    if b <= 0:
        return "n/a (denominator <= 0)"
    return f"{a / b:.1f}x"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in rows)])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_line() -> str:
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    distro = platform.system()
    try:
        info = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
        distro = info.get("PRETTY_NAME", distro).strip('"')
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {mem}, {distro}, Python {platform.python_version()}"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def cpu_busy(window: float = 0.5) -> float:
    """Fraction of all cores' time spent busy over ``window`` seconds (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle

    try:
        t0, i0 = sample()
        time.sleep(window)
        t1, i1 = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    return 1.0 - (i1 - i0) / max(t1 - t0, 1)


class RunFailed(RuntimeError):
    pass


# --------------------------------------------------------------------------------------------------
# tools: how to run a script with each of them


@dataclass
class Tool:
    name: str
    python: str
    version: str = ""
    env_extra: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # set when the tool cannot be benchmarked


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.work = envs.BENCH_DIR / "work" / self.stamp
        self.logs = envs.BENCH_DIR / "logs" / self.stamp
        self.work.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.tools: dict[str, Tool] = {}
        self.prefect_server: subprocess.Popen | None = None
        self.prefect_mode = ""
        self.results: dict[str, dict] = {}
        self.lines: list[str] = []  # everything printed to stdout, for the results file
        self.timed_runs = 0
        self.busy_starts = 0  # timed runs that started while other work kept the machine busy

    # ---- output
    def out(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    # ---- setup
    def sandbox_env(self, tool: str, root: Path) -> dict[str, str]:
        """XDG folders under ``root`` so a competitor never writes to ~/.config or ~/.cache."""
        env = {}
        for var, sub in (
            ("XDG_CONFIG_HOME", "xdg-config"),
            ("XDG_CACHE_HOME", "xdg-cache"),
            ("XDG_DATA_HOME", "xdg-data"),
        ):
            (root / sub).mkdir(parents=True, exist_ok=True)
            env[var] = str(root / sub)
        return env

    def setup_tools(self, wanted: list[str]) -> None:
        for name in wanted:
            tool = Tool(name, sys.executable)
            if name == "runyard":
                probe = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        "from runyard import step, pipeline; import importlib.metadata as m;"
                        "print(m.version('runyard'))",
                    ],
                    capture_output=True,
                    text=True,
                    env=envs.clean_env(),
                )
                if probe.returncode != 0:
                    tool.error = "SDK not importable: " + (probe.stderr.strip().splitlines() or ["?"])[-1]
                else:
                    tool.version = probe.stdout.strip()
            elif name == "plain":
                tool.version = platform.python_version()
            else:
                try:
                    tool.python = str(envs.ensure_env(name, log=log))
                    tool.version = envs.installed_versions(name)[name]
                except Exception as exc:
                    tool.error = f"venv could not be made: {exc}"
            self.tools[name] = tool
            if tool.error:
                log(f"[bench] {LABEL[name]} unavailable: {tool.error}")

    def start_prefect(self) -> None:
        tool = self.tools["prefect"]
        home = self.work / "prefect"
        home.mkdir(parents=True, exist_ok=True)
        base = {
            "PREFECT_HOME": str(home / "home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            **self.sandbox_env("prefect", home),
        }
        port = free_port()
        server_log = open(self.logs / "prefect-server.log", "w")  # noqa: SIM115 (the server keeps it)
        prefect_bin = str(Path(tool.python).parent / "prefect")
        log(f"[bench] starting Prefect server on 127.0.0.1:{port}")
        self.prefect_server = subprocess.Popen(
            [prefect_bin, "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui", "--analytics-off"],
            env={**envs.clean_env(), **base},
            cwd=home,
            stdout=server_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.prefect_server.poll() is None:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        tool.env_extra = {**base, "PREFECT_API_URL": url}
                        self.prefect_mode = f"server at {url} (pid {self.prefect_server.pid})"
                        log(f"[bench] Prefect server ready: {self.prefect_mode}")
                        return
            except OSError:
                pass
            time.sleep(0.5)
        self.stop_prefect()
        # Fallback: Prefect's ephemeral mode (an in-process API per flow run).
        tool.env_extra = {**base, "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "true"}
        self.prefect_mode = (
            f"EPHEMERAL mode (the Prefect server could not be started; see {self.logs / 'prefect-server.log'})"
        )
        log(f"[bench] {self.prefect_mode}")

    def stop_prefect(self) -> None:
        proc = self.prefect_server
        if proc is None:
            return
        self.prefect_server = None
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group, by its pid
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def server_cpu_ticks(self) -> int:
        """CPU ticks used so far by the Prefect server's process group."""
        proc = self.prefect_server
        total = 0
        if proc is None:
            return 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == proc.pid:  # fields[2] is the process group id
                total += int(fields[11]) + int(fields[12])  # utime + stime
        return total

    def settle_prefect(self, limit: float = 20.0) -> None:
        """Wait until the Prefect server has finished the work a flow run left it (events, state
        updates), so that its background CPU use does not land on the next tool's measurement."""
        if self.prefect_server is None:
            return
        deadline = time.monotonic() + limit
        last, quiet = self.server_cpu_ticks(), 0
        while time.monotonic() < deadline and quiet < 2:
            time.sleep(0.25)
            now = self.server_cpu_ticks()
            quiet = quiet + 1 if now - last <= 2 else 0
            last = now

    # ---- per-figure tool contexts
    def context(self, tool: str, fig: int) -> tuple[dict[str, str], Path]:
        """(environment, cwd) for running ``tool`` in figure ``fig``; fresh state per figure."""
        figdir = self.work / f"fig{fig}"
        env = envs.clean_env()
        env["BENCH_SCRATCH"] = str(figdir / f"scratch-{tool}")  # raw np.save/np.load (figure 5)
        t = self.tools[tool]
        if tool == "runyard":
            home = figdir / "runyard-home"
            home.mkdir(parents=True, exist_ok=True)
            env["RUNYARD_HOME"] = str(home)
            return env, PIPELINES
        if tool == "plain":
            return env, PIPELINES
        if tool == "prefect":
            env.update(t.env_extra)
            return env, PIPELINES
        # zenml: its own global config, local SQLite store and `zenml init` repository per figure.
        root = figdir / "zenml"
        repo = root / "repo"
        env.update(self.sandbox_env("zenml", root))
        env.update(
            {
                "ZENML_CONFIG_PATH": str(root / "config"),
                "ZENML_ANALYTICS_OPT_IN": "false",
                "ZENML_ENABLE_RICH_TRACEBACK": "false",
            }
        )
        if not (repo / ".zen").exists():
            repo.mkdir(parents=True, exist_ok=True)
            # ZenML resolves step sources against the repository root: the scripts must live inside it.
            for src in PIPELINES.glob("*.py"):
                shutil.copy2(src, repo / src.name)
            zenml_bin = str(Path(t.python).parent / "zenml")
            done = subprocess.run([zenml_bin, "init"], env=env, cwd=repo, capture_output=True, text=True)
            (self.logs / f"fig{fig}-zenml-init.log").write_text(done.stdout + done.stderr)
            if done.returncode != 0:
                raise RunFailed(f"zenml init failed, see {self.logs / f'fig{fig}-zenml-init.log'}")
        return env, repo

    # ---- one measured subprocess
    def wait_quiet(self) -> None:
        """Before a timed run: wait (bounded) for a moment when other work leaves the cores idle."""
        if self.args.quiet_wait <= 0:
            return
        deadline = time.monotonic() + self.args.quiet_wait
        self.timed_runs += 1
        while cpu_busy() > QUIET_BUSY:
            if time.monotonic() >= deadline:
                self.busy_starts += 1
                return
            time.sleep(0.5)

    def run_once(self, tool: str, fig: int, name: str, argv: list[str], tag: str) -> tuple[float, dict]:
        env, cwd = self.context(tool, fig)
        if tag != "warmup":
            self.wait_quiet()
        cmd = [self.tools[tool].python, *argv]
        t0 = time.perf_counter()
        proc = subprocess.run(
            cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT
        )
        elapsed = time.perf_counter() - t0
        if tool == "prefect":
            self.settle_prefect()
        text = proc.stdout.decode(errors="replace")
        logfile = self.logs / f"fig{fig}-{tool}-{name}-{tag}.log"
        logfile.write_text(f"$ {' '.join(cmd)}\n(cwd {cwd})\n{text}\nexit {proc.returncode}\n")
        if proc.returncode != 0:
            tail = " | ".join(text.strip().splitlines()[-3:])
            raise RunFailed(f"exit {proc.returncode}: {tail[-300:]} (log: {logfile})")
        result: dict = {}
        if argv and argv[0].endswith(".py"):
            lines = [ln for ln in text.splitlines() if ln.startswith("BENCH_RESULT ")]
            if not lines:
                raise RunFailed(f"no BENCH_RESULT line (log: {logfile})")
            result = json.loads(lines[-1][len("BENCH_RESULT ") :])
            status = str(result.get("status", "completed")).lower()
            if not status.endswith("completed"):
                raise RunFailed(f"run status {result.get('status')} (log: {logfile})")
        return elapsed, result

    def measure(self, fig: int, jobs: dict[tuple[str, str], list[str]]) -> dict[tuple[str, str], dict]:
        """Run each job (tool, variant) -> argv once untimed, then ``repeat`` times interleaved.

        Returns {(tool, variant): {"wall": [...], "results": [...]} or {"error": str}}.
        """
        out: dict[tuple[str, str], dict] = {}
        for key, argv in jobs.items():
            tool, name = key
            if self.tools[tool].error:
                out[key] = {"error": self.tools[tool].error}
                continue
            try:
                log(f"[bench] figure {fig}: warm-up {tool} {name}")
                warmup, _ = self.run_once(tool, fig, name, argv, "warmup")
                out[key] = {"wall": [], "results": [], "warmup": warmup}
            except (RunFailed, subprocess.TimeoutExpired) as exc:
                out[key] = {"error": str(exc)}
                log(f"[bench] figure {fig}: {tool} {name} FAILED: {exc}")
        for rep in range(self.args.repeat):
            log(f"[bench] figure {fig}: repetition {rep + 1}/{self.args.repeat}")
            for key, argv in jobs.items():
                if "error" in out[key]:
                    continue
                try:
                    wall, result = self.run_once(key[0], fig, key[1], argv, f"rep{rep + 1}")
                except (RunFailed, subprocess.TimeoutExpired) as exc:
                    out[key] = {"error": str(exc)}
                    log(f"[bench] figure {fig}: {key[0]} {key[1]} FAILED: {exc}")
                    continue
                out[key]["wall"].append(wall)
                out[key]["results"].append(result)
        return out

    # ---- figures
    def tools_in(self, fig: int) -> list[str]:
        return [t for t in TOOLS if t in self.tools]

    def verdict(
        self, fig: int, ok: bool | None, text: str, best: tuple[bool, str] | None = None, noisy: bool = False
    ) -> None:
        """PASS/MISS on medians; ``best`` = the same check on minimums, shown beside it because on a
        shared machine other work only ever adds time (the minimum is the least disturbed sample)."""
        word = "n/a" if ok is None else ("PASS" if ok else "MISS")
        if noisy:
            word = "NOISY (a negative difference: other work swamped it; rerun on a quieter machine)"
        extra = ""
        if best is not None:
            extra = f" (on minimums: {best[1]} -> {'PASS' if best[0] else 'MISS'})"
        self.out(f"Target: {text} -> {word}{extra}")
        self.results.setdefault(f"fig{fig}", {})["target"] = {
            "text": text,
            "verdict": word,
            "on_minimums": None if best is None else {"text": best[1], "verdict": "PASS" if best[0] else "MISS"},
        }

    def row_error(self, tool: str, err: str, ncols: int) -> list[str]:
        return [LABEL[tool], f"ERROR: {err}"[:160], *[""] * (ncols - 2)]

    def fig1(self) -> None:
        self.out("\n## Figure 1: 1-step pipeline of a trivial step, fresh process (wall time)\n")
        tools = self.tools_in(1)
        jobs = {(t, "run"): [f"fig1_{t}.py"] for t in tools}
        if "runyard" in tools:
            jobs[("runyard", "inprocess")] = ["fig1_runyard_inprocess.py"]
        res = self.measure(1, jobs)
        rows, med, mins = [], {}, {}
        for t in tools:
            r = res[(t, "run")]
            if "error" in r:
                rows.append(self.row_error(t, r["error"], 4))
                continue
            lo, mid, hi = stats(r["wall"])
            med[t], mins[t] = mid, lo
            rows.append([LABEL[t], fmt_s(lo), fmt_s(mid), fmt_s(hi)])
        inprocess = res.get(("runyard", "inprocess"), {})
        if inprocess.get("wall"):
            lo, mid, hi = stats(inprocess["wall"])
            rows.append(["Runyard, RUNYARD_LOCAL_SERVICE=0", fmt_s(lo), fmt_s(mid), fmt_s(hi)])
        self.out(table(["tool", "min", "median", "max"], rows))
        if "warmup" in res.get(("runyard", "run"), {}):
            self.out(f"Runyard's untimed first run in a fresh RUNYARD_HOME (creates the workspace, starts the "
                     f"local service): {fmt_s(res[('runyard', 'run')]['warmup'])}; the timed runs reuse that "
                     "service, as every later `python pipeline.py` within its idle time (300 s) does.")
        self.results["fig1"] = {"samples": {t: res[(t, "run")] for t in tools}, "runyard_inprocess": inprocess}
        self.ratios(med, [("zenml", "runyard"), ("prefect", "runyard"), ("runyard", "plain")])
        if "runyard" in med and "zenml" in med:
            best = mins["zenml"] / mins["runyard"]
            self.verdict(
                1,
                med["zenml"] / med["runyard"] >= 15,
                f"Runyard >= 15x faster than ZenML (ZenML/Runyard = {med['zenml'] / med['runyard']:.1f}x)",
                (best >= 15, f"{best:.1f}x"),
            )
        else:
            self.verdict(1, None, "Runyard >= 15x faster than ZenML")

    def ratios(self, med: dict[str, float], pairs: list[tuple[str, str]]) -> None:
        parts = [f"{SHORT[a]}/{SHORT[b]} = {ratio(med[a], med[b])}" for a, b in pairs if a in med and b in med]
        if parts:
            self.out("Ratios (medians): " + ", ".join(parts))

    def fig2(self) -> None:
        self.out(
            "\n## Figure 2: 3-step scikit-learn pipeline (digits: load+split, train LogisticRegression, "
            "evaluate), fresh process, minus the plain-Python floor\n"
        )
        tools = self.tools_in(2)
        jobs: dict[tuple[str, str], list[str]] = {}
        for t in tools:
            jobs[(t, "run")] = [f"fig2_{t}.py"]
            if t in ("zenml", "prefect") or (t == "runyard" and "plain" not in tools):
                # The floor on the tool's own interpreter and numpy/scikit-learn builds.
                jobs[(t, "floor")] = ["fig2_plain.py"]
        res = self.measure(2, jobs)
        floor_key = {
            "runyard": ("plain", "run") if "plain" in tools else ("runyard", "floor"),
            "plain": ("plain", "run"),
            "zenml": ("zenml", "floor"),
            "prefect": ("prefect", "floor"),
        }
        rows, over, over_min = [], {}, {}
        for t in tools:
            r = res[(t, "run")]
            fk = floor_key[t]
            f = res.get(fk, {"error": "floor not measured (add plain to --only)"})
            if "error" in r or "error" in f:
                rows.append(self.row_error(t, r.get("error") or f.get("error"), 6))
                continue
            floor = statistics.median(f["wall"])
            lo, mid, hi = stats(r["wall"])
            o = [w - floor for w in r["wall"]]
            olo, omid, ohi = stats(o)
            over[t] = omid
            over_min[t] = min(r["wall"]) - min(f["wall"])
            acc = r["results"][-1].get("accuracy")
            rows.append(
                [
                    LABEL[t],
                    f"{fmt_s(lo)} / {fmt_s(mid)} / {fmt_s(hi)}",
                    fmt_s(floor),
                    f"{fmt_s(olo)} / {fmt_s(omid)} / {fmt_s(ohi)}",
                    f"{acc:.3f}" if acc else "?",
                ]
            )
        self.out(
            table(
                ["tool", "wall min / median / max", "floor (median)", "overhead min / median / max", "accuracy"], rows
            )
        )
        self.out(
            "Overhead = each run's wall time minus the median floor measured with the same "
            "interpreter (project venv for Runyard; the tool's venv for ZenML/Prefect)."
        )
        self.results["fig2"] = {"samples": {f"{k[0]}:{k[1]}": v for k, v in res.items()}}
        self.ratios(over, [("zenml", "runyard"), ("prefect", "runyard")])
        if "runyard" in over:
            self.verdict(
                2,
                over["runyard"] <= 0.3,
                f"Runyard overhead <= 0.3 s (median {over['runyard']:.3f} s)",
                (over_min["runyard"] <= 0.3, f"min run - min floor = {over_min['runyard']:.3f} s"),
                noisy=over["runyard"] < 0,
            )
        else:
            self.verdict(2, None, "Runyard overhead <= 0.3 s")

    def fig3(self) -> None:
        self.out(
            f"\n## Figure 3: per-step overhead, {CHAIN}-step chain minus 1-step chain, "
            f"divided by {CHAIN - 1} (fresh processes)\n"
        )
        tools = self.tools_in(3)
        jobs = {}
        for t in tools:
            jobs[(t, "1")] = [f"fig3_{t}.py", "--steps", "1"]
            jobs[(t, str(CHAIN))] = [f"fig3_{t}.py", "--steps", str(CHAIN)]
        res = self.measure(3, jobs)
        rows, per, per_min = [], {}, {}
        for t in tools:
            one, many = res[(t, "1")], res[(t, str(CHAIN))]
            if "error" in one or "error" in many:
                rows.append(self.row_error(t, one.get("error") or many.get("error"), 5))
                continue
            # Pair repetition i of each (they ran back to back), so slow moments cancel out.
            ps = [(b - a) / (CHAIN - 1) for a, b in zip(one["wall"], many["wall"], strict=True)]
            lo, mid, hi = stats(ps)
            per[t] = mid
            per_min[t] = (min(many["wall"]) - min(one["wall"])) / (CHAIN - 1)
            rows.append(
                [
                    LABEL[t],
                    fmt_s(statistics.median(one["wall"])),
                    fmt_s(statistics.median(many["wall"])),
                    f"{fmt_ms(lo)} / {fmt_ms(mid)} / {fmt_ms(hi)}",
                ]
            )
        self.out(table(["tool", "1 step (median)", f"{CHAIN} steps (median)", "per step min / median / max"], rows))
        self.results["fig3"] = {"samples": {f"{k[0]}:{k[1]}": v for k, v in res.items()}}
        self.ratios(per, [("zenml", "runyard"), ("prefect", "runyard")])
        if "runyard" in per:
            self.verdict(
                3,
                per["runyard"] <= 0.002,
                f"Runyard <= 2 ms/step (median {per['runyard'] * 1000:.1f} ms)",
                (
                    per_min["runyard"] <= 0.002,
                    f"(min {CHAIN} - min 1) / {CHAIN - 1} = {per_min['runyard'] * 1000:.1f} ms",
                ),
                noisy=per["runyard"] < 0,
            )
        else:
            self.verdict(3, None, "Runyard <= 2 ms/step")

    def fig4(self) -> None:
        self.out('\n## Figure 4: `python -c "import X"`, fresh process (wall time)\n')
        tools = self.tools_in(4)
        code = {"runyard": "import runyard", "zenml": "import zenml", "prefect": "import prefect", "plain": "pass"}
        res = self.measure(4, {(t, "import"): ["-c", code[t]] for t in tools})
        rows, med, mins = [], {}, {}
        for t in tools:
            r = res[(t, "import")]
            name = f"{LABEL[t]} (`{code[t]}`)"
            if "error" in r:
                rows.append([name, f"ERROR: {r['error']}"[:160], "", ""])
                continue
            lo, mid, hi = stats(r["wall"])
            med[t], mins[t] = mid, lo
            rows.append([name, fmt_ms(lo), fmt_ms(mid), fmt_ms(hi)])
        self.out(table(["tool", "min", "median", "max"], rows))
        self.out("`pass` is the bare interpreter start-up, included in every other row.")
        self.results["fig4"] = {"samples": {t: res[(t, "import")] for t in tools}}
        self.ratios(med, [("zenml", "runyard"), ("prefect", "runyard")])
        if "runyard" in med:
            self.verdict(
                4,
                med["runyard"] <= 0.1,
                f"`import runyard` <= 100 ms (median {med['runyard'] * 1000:.0f} ms)",
                (mins["runyard"] <= 0.1, f"{mins['runyard'] * 1000:.0f} ms"),
            )
        else:
            self.verdict(4, None, "`import runyard` <= 100 ms")

    def fig5(self) -> None:
        self.out(
            "\n## Figure 5: 100 MiB numpy array, producer step -> consumer step: artifact save+load "
            "vs raw np.save+np.load (timed in-process)\n"
        )
        # Prefect hands task results to the next task in memory (no save+load to compare): not in figure 5.
        tools = [t for t in self.tools_in(5) if t != "prefect"]
        jobs = {(t, "run"): [f"fig5_{t}.py"] for t in tools}
        raw_key = ("plain", "run")
        if "plain" not in tools and "runyard" in tools:
            raw_key = ("runyard", "raw")  # the raw floor on the project interpreter all the same
            jobs[raw_key] = ["fig5_plain.py"]
        res = self.measure(5, jobs)
        raw = raw_min = None
        if raw_key in res and "error" not in res[raw_key]:
            raw = statistics.median(r["io"] for r in res[raw_key]["results"])
            raw_min = min(r["io"] for r in res[raw_key]["results"])
        rows, med, mins = [], {}, {}
        for t in tools:
            r = res[(t, "run")]
            if "error" in r:
                rows.append(self.row_error(t, r["error"], 5))
                continue
            if t == "plain":
                xs = [x["io"] for x in r["results"]]
                lo, mid, hi = stats(xs)
                rows.append(["raw np.save + np.load", f"{fmt_s(lo)} / {fmt_s(mid)} / {fmt_s(hi)}", "", "", "1.0x"])
                continue
            xs = [x["artifact"] for x in r["results"]]
            lo, mid, hi = stats(xs)
            med[t], mins[t] = mid, lo
            big = statistics.median(x["big"] for x in r["results"])
            small = statistics.median(x["small"] for x in r["results"])
            rows.append(
                [
                    LABEL[t],
                    f"{fmt_s(lo)} / {fmt_s(mid)} / {fmt_s(hi)}",
                    fmt_s(big),
                    fmt_s(small),
                    ratio(mid, raw) if raw else "n/a",
                ]
            )
        self.out(table(["tool", "save+load min / median / max", "big run", "1-element run", "vs raw"], rows))
        self.out(
            "save+load = big-array pipeline call - 1-element pipeline call - the two step bodies run bare "
            "(make the array, sum it), in the same process after a warm-up run, caching off."
        )
        if "prefect" in self.tools:
            self.out(
                "Prefect is not in this figure: it passes task results to the next task in memory, so "
                "there is no artifact save+load to compare."
            )
        self.results["fig5"] = {"samples": {t: res[(t, "run")] for t in tools}}
        if "runyard" in med and raw:
            self.verdict(
                5,
                med["runyard"] / raw <= 1.3,
                f"Runyard artifact save+load <= 1.3x raw np.save+np.load ({med['runyard'] / raw:.2f}x)",
                (mins["runyard"] / raw_min <= 1.3, f"{mins['runyard'] / raw_min:.2f}x") if raw_min else None,
            )
        else:
            self.verdict(5, None, "Runyard artifact save+load <= 1.3x raw")

    # ---- main
    def run(self) -> int:
        args = self.args
        wanted = [t for t in TOOLS if t in args.only]
        self.setup_tools(wanted)
        try:
            if "prefect" in self.tools and not self.tools["prefect"].error and set(args.figures) & {1, 2, 3}:
                self.start_prefect()
            self.out("# Runyard benchmark")
            self.out(f"date: {dt.date.today().isoformat()}; machine: {machine_line()}")
            self.out(f"repetitions: {args.repeat} fresh processes per figure and tool (after 1 warm-up)")
            self.out(f"load average at start: {load_average()} (other work on the machine shows up as noise)")
            for t, tool in self.tools.items():
                where = "project interpreter" if t in ("runyard", "plain") else f"venv {Path(tool.python).parents[1]}"
                broken = f": UNAVAILABLE, {tool.error}" if tool.error else ""
                self.out(f"- {LABEL[t]} {tool.version or ''} ({where}){broken}")
            if self.prefect_mode:
                self.out(f"- Prefect API: {self.prefect_mode}")
            for fig in args.figures:
                getattr(self, f"fig{fig}")()
            self.out(f"\nload average at end: {load_average()}")
            if self.timed_runs:
                self.out(
                    f"{self.busy_starts} of {self.timed_runs} timed runs started while other work kept the cores "
                    f"more than {QUIET_BUSY:.0%} busy after waiting {self.args.quiet_wait:g} s for a quiet moment."
                )
        finally:
            self.stop_prefect()
            if not args.keep_work:
                shutil.rmtree(self.work, ignore_errors=True)
        result_file = envs.BENCH_DIR / f"results-{self.stamp}.json"
        result_file.write_text(
            json.dumps({"args": vars(args), "results": self.results, "printed": self.lines}, indent=1, default=str)
        )
        log(f"[bench] raw samples: {result_file}; logs: {self.logs}")
        return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--only", default=",".join(TOOLS), help=f"comma-separated tools (default: {','.join(TOOLS)})")
    p.add_argument("--figures", default=",".join(map(str, FIGURES)), help="comma-separated figures 1-5")
    p.add_argument("--repeat", type=int, default=None, help="fresh processes per figure and tool (default 5)")
    p.add_argument("--quick", action="store_true", help="3 repetitions")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="before each timed run, wait up to this long for the cores to be idle (other work on a shared "
        "machine); 0 disables (default 20)",
    )
    p.add_argument(
        "--keep-work",
        action="store_true",
        help="keep .bench/work/<stamp> (stores, artifacts) instead of deleting it at the end",
    )
    args = p.parse_args(argv)
    args.only = [t.strip() for t in args.only.split(",") if t.strip()]
    bad = [t for t in args.only if t not in TOOLS]
    if bad:
        p.error(f"unknown tool(s) {bad}; choose from {TOOLS}")
    args.figures = sorted({int(f) for f in args.figures.split(",") if f.strip()})
    if any(f not in FIGURES for f in args.figures):
        p.error(f"figures are {FIGURES}")
    if args.repeat is None:
        args.repeat = 3 if args.quick else 5
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    return args


if __name__ == "__main__":
    sys.exit(Bench(parse_args()).run())
