"""Fill a workspace database with millions of runs, fast, for the Workspace Server benchmarks.

    .venv/bin/python benchmarks/seed.py                                 # PostgreSQL, 1,000,000 runs, dropped at the end
    .venv/bin/python benchmarks/seed.py --runs 1000000 --keep           # keep it; prints its URL and a manifest
    .venv/bin/python benchmarks/seed.py --name runyard_bench_1m --keep --manifest .bench/seed-1m.json
    .venv/bin/python benchmarks/seed.py --sqlite /tmp/ws.db --runs 20000

What it writes (all numbers are options):

- ``--pipelines`` pipelines (default 50) with a Zipf-like share of the runs each, and one snapshot each,
  created through the service layer (``workspace/services/pipelines.py``);
- ``--runs`` runs (default 1,000,000), their ``created`` spread over the last year, oldest first; statuses
  as a workspace has them: ~93% completed, ~5% failed, ~2% cancelled, and runs still going only among the
  newest; ~35% of the runs carry one or two tags out of 20;
- ``--steps-per-run`` step runs per run (default 10: 10,000,000 rows) in a chain, with statuses that
  follow their run's (a failed run has completed steps, one failed step, then skipped ones; a running run
  has a running step and pending ones), cache keys on half the pipelines, some cached steps;
- per run, the first step's output as an artifact version (versions numbered per artifact name) and its
  two lineage edges (output of step 1, input of step 2);
- one completed run of ``--big-run-steps`` steps (default 1,000) in its own pipeline ``big_chain``, every
  step with an output artifact version read by the next step: the run page figure.

The schema is the project's own: the database is opened with ``get_database()``, which runs the
migrations. PostgreSQL is then loaded the way bulk loads are done: the constraints and indexes of the
loaded tables are read from the catalog (``pg_get_constraintdef`` / ``pg_get_indexdef``) and dropped, each
table is filled by one ``COPY ... FREEZE`` (one connection per table, rows generated in Python in
batches), then the same definitions are re-created and compared with the originals (the seed fails if
they differ), and ``ANALYZE`` runs. ``--sqlite PATH`` fills a SQLite file with ``executemany`` instead
(indexes kept; for small seeds).

At the end it prints rows per second and writes a JSON manifest (URL, counts, the big run's id, pipeline
names and their run counts) that ``server_bench.py --manifest`` reads. The PostgreSQL database
(``runyard_bench_<random>`` on ``--pg-admin-url``) is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import re
import secrets
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

#: Tables filled in bulk, with their columns in the order the generators produce them. The seed checks
#: these against the real tables, so a schema change makes it fail loudly instead of writing wrong rows.
COLUMNS: dict[str, tuple[str, ...]] = {
    "runs": ("id", "name", "pipeline_id", "snapshot_id", "stack_id", "status", "parameters", "error",
             "orchestrator_run_id", "created", "updated", "started", "ended", "heartbeat_at", "metadata_json"),
    "run_tags": ("run_id", "tag"),
    "step_runs": ("id", "run_id", "pipeline_id", "invocation_id", "step_name", "status", "parameters",
                  "source_hash", "cache_key", "cache_parts", "original_step_run_id", "error", "traceback",
                  "attempts", "created", "started", "ended", "metadata_json"),
    "artifacts": ("id", "name", "latest_version", "created"),
    "artifact_versions": ("id", "artifact_id", "version", "uri", "content_hash", "size", "materializer",
                          "data_type", "artifact_store_id", "producer_step_run_id", "metadata_json", "created"),
    "step_run_artifacts": ("step_run_id", "kind", "name", "artifact_version_id"),
}
#: Columns the seed leaves to their server default (every seeded row is in the ``default`` project).
DEFAULTED = frozenset({"project"})
#: Load order on SQLite, where foreign keys are checked row by row.
LOAD_ORDER = ("runs", "run_tags", "step_runs", "artifacts", "artifact_versions", "step_run_artifacts")

STEP_WORDS = ("load_data", "validate", "clean", "split", "featurize", "train", "tune", "evaluate", "register",
              "report")
DOMAINS = ("churn", "fraud", "recsys", "search_rank", "demand", "pricing", "ads_ctr", "support_nlp", "vision_qc",
           "forecast")
KINDS = ("training", "etl", "evaluation", "batch_inference", "retraining")
TAGS = ("nightly", "prod", "experiment", "baseline", "gpu", "hpo", "ci", "backfill", "staging", "release",
        "ablation", "debug", "weekly", "canary", "v2", "large", "small", "team-a", "team-b", "team-c")
RUN_ERROR = "Step {step} failed: ValueError: input contains NaN in column 'amount'"
STEP_TRACEBACK = ("Traceback (most recent call last):\n  File \"steps.py\", line 42, in {step}\n"
                  "    raise ValueError(\"input contains NaN in column 'amount'\")\n"
                  "ValueError: input contains NaN in column 'amount'")
BIG_PIPELINE = "big_chain"


# --- options and results ------------------------------------------------------------------------------
@dataclass
class SeedConfig:
    runs: int = 1_000_000
    steps_per_run: int = 10
    pipelines: int = 50
    big_run_steps: int = 1_000
    batch_runs: int = 5_000
    seed: int = 20261127
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))


@dataclass
class Pipeline:
    name: str
    id: str  # 32 hex digits, the form both SQLite (CHAR(32)) and PostgreSQL (uuid) accept
    snapshot_id: str
    steps: list[str]
    cache: bool
    source_hashes: list[str]
    cache_parts: list[str]
    artifact_id: str
    artifact_name: str
    runs: int = 0
    versions: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    last_step_ids: list[str] | None = None


# --- helpers ------------------------------------------------------------------------------------------
def _ts(dt: datetime) -> str:
    """A naive-UTC timestamp as both databases store ``UTCDateTime`` (``YYYY-MM-DD HH:MM:SS.ffffff``)."""
    return dt.isoformat(" ", "microseconds")


class _Ids:
    """Random 128-bit ids as 32 hex digits, drawn in blocks (much cheaper than ``uuid.uuid4()`` each)."""

    def __init__(self, block: int = 65_536) -> None:
        self.block = block
        self._hex = ""
        self._pos = 0

    def __call__(self) -> str:
        if self._pos >= len(self._hex):
            self._hex = os.urandom(16 * self.block).hex()
            self._pos = 0
        out = self._hex[self._pos : self._pos + 32]
        self._pos += 32
        return out

    def hex64(self) -> str:
        return self() + self()


def _run_name(pipeline: str, ts: str) -> str:
    """Runyard's default run name, ``<pipeline>-YYYY_MM_DD-HH_MM_SS_ffffff``, from a ``_ts`` string."""
    return f"{pipeline}-{ts[:4]}_{ts[5:7]}_{ts[8:10]}-{ts[11:13]}_{ts[14:16]}_{ts[17:19]}_{ts[20:26]}"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _spec(name: str, steps: list[str], hashes: list[str], parameters: dict[str, Any]) -> dict[str, Any]:
    """A snapshot spec shaped like the ones ``@pipeline`` compiles (a chain of steps)."""
    out = []
    for i, (step, h) in enumerate(zip(steps, hashes, strict=True)):
        out.append({
            "invocation_id": step, "step_name": step, "source": f"{name}.steps:{step}", "source_hash": h,
            "parameters": {}, "inputs": {} if i == 0 else {"data": {"step": steps[i - 1], "output": "output"}},
            "after": [], "outputs": [{"name": "output", "type_name": "pandas.core.frame.DataFrame"}],
            "enable_cache": True, "retry": {"max_retries": 0, "delay": 0.0, "backoff": 1.0},
        })
    return {"name": name, "steps": out, "parameters": parameters, "version": 1}


def _cache_parts(source_hash: str, store_id: str, *, first: bool, enabled: bool) -> str:
    parts = {
        "parts": {"source_hash": source_hash, "parameters": {},
                  "inputs": {} if first else {"data": _sha(source_hash)},
                  "outputs": {"output": "runyard.pandas"}, "artifact_store": store_id},
        "explanation": "computed" if enabled else "cache disabled for this step",
    }
    return json.dumps(parts)


# --- the rows -----------------------------------------------------------------------------------------
class Generator:
    """Produces the rows of every bulk table, in batches of runs, oldest run first."""

    def __init__(self, cfg: SeedConfig, pipelines: list[Pipeline], stack_id: str, store_id: str,
                 big: Pipeline | None) -> None:
        self.cfg = cfg
        self.pipelines = pipelines
        self.stack_id = stack_id
        self.store_id = store_id
        self.big = big
        self.rng = random.Random(cfg.seed)
        self.ids = _Ids()
        weights = [1.0 / (k + 1) ** 0.9 for k in range(len(pipelines))]  # a few busy pipelines, a long tail
        total = sum(weights)
        acc = 0.0
        self.cum_weights = []
        for w in weights:
            acc += w / total
            self.cum_weights.append(acc)
        self.start = cfg.now - timedelta(days=365)
        self.spacing = (timedelta(days=365) - timedelta(hours=1)).total_seconds() / max(cfg.runs, 1)
        # runs still going are only among the newest (older ones have ended, or the reaper failed them)
        self.live_from = cfg.runs - min(200, max(1, cfg.runs // 1000))
        self.big_at = cfg.runs // 2  # the big run sits in the middle of the year, not at the top of page one
        self.params = [json.dumps({"lr": lr, "epochs": ep, "batch_size": bs})
                       for lr in (0.1, 0.03, 0.01, 0.003) for ep in (5, 10, 20) for bs in (64, 256)]
        self.big_run_id: str | None = None
        self.counts: dict[str, int] = dict.fromkeys(COLUMNS, 0)

    def batches(self) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
        n = self.cfg.runs
        for lo in range(0, n, self.cfg.batch_runs):
            yield self._batch(lo, min(n, lo + self.cfg.batch_runs))

    def _batch(self, lo: int, hi: int) -> dict[str, list[tuple[Any, ...]]]:
        rng, ids, cfg = self.rng, self.ids, self.cfg
        out: dict[str, list[tuple[Any, ...]]] = {t: [] for t in COLUMNS}
        runs, tags, steps = out["runs"], out["run_tags"], out["step_runs"]
        versions, edges = out["artifact_versions"], out["step_run_artifacts"]
        choices = rng.choices(self.pipelines, cum_weights=self.cum_weights, k=hi - lo)
        n_steps = cfg.steps_per_run
        for i in range(lo, hi):
            if self.big is not None and i == self.big_at:
                self._big_run(out, self.start + timedelta(seconds=(i + 0.5) * self.spacing))
            p = choices[i - lo]
            run_id = ids()
            created = self.start + timedelta(seconds=(i + rng.random() * 0.9) * self.spacing)
            r = rng.random()
            if i >= self.live_from and r < 0.5:
                status = "running"
            elif r < 0.05:
                status = "failed"
            elif r < 0.07:
                status = "cancelled"
            else:
                status = "completed"
            p.runs += 1
            p.statuses[status] = p.statuses.get(status, 0) + 1
            stop = n_steps if status == "completed" else rng.randrange(n_steps)  # the step that failed/runs
            cached_upto = rng.randrange(1, n_steps) if p.cache and status == "completed" and rng.random() < 0.2 else 0
            cts = _ts(created)
            # steps run one after another, 2-60 s each
            t = created
            step_ids = []
            for k in range(n_steps):
                sid = ids()
                step_ids.append(sid)
                name = p.steps[k]
                s_created = _ts(t)
                if k < stop:
                    s_status = "cached" if k < cached_upto else "completed"
                    dur = 0.05 if s_status == "cached" else 2 + 58 * rng.random()
                    t = t + timedelta(seconds=dur)
                    s_started, s_ended = s_created, _ts(t)
                elif k == stop:
                    s_status = {"failed": "failed", "cancelled": "cancelled", "running": "running"}[status]
                    if s_status == "running":
                        s_started, s_ended = s_created, None
                    else:
                        t = t + timedelta(seconds=1 + 20 * rng.random())
                        s_started, s_ended = s_created, _ts(t)
                else:
                    s_status = "pending" if status == "running" else "skipped"
                    s_started, s_ended = None, (None if status == "running" else _ts(t))
                failed = s_status == "failed"
                original = None
                if s_status == "cached" and p.last_step_ids is not None:
                    original = p.last_step_ids[k]
                steps.append((
                    sid, run_id, p.id, name, name, s_status, "{}", p.source_hashes[k],
                    ids.hex64() if p.cache else None, p.cache_parts[k], original,
                    "ValueError: input contains NaN in column 'amount'" if failed else None,
                    STEP_TRACEBACK.format(step=name) if failed else None,
                    1, s_created, s_started, s_ended, "{}",
                ))
            if status == "completed":
                p.last_step_ids = step_ids
            ended = None if status == "running" else _ts(t)
            metadata = (f'{{"accuracy": {0.7 + 0.29 * rng.random():.4f}, "rows": {rng.randrange(10_000, 10_000_000)}}}'
                        if status == "completed" else "{}")
            runs.append((
                run_id, _run_name(p.name, cts),
                p.id, p.snapshot_id, self.stack_id, status, self.params[i % len(self.params)],
                RUN_ERROR.format(step=p.steps[stop]) if status == "failed" else None, None,
                cts, ended or cts, cts, ended, ended or cts, metadata,
            ))
            r = rng.random()
            if r < 0.35:  # ~35% of the runs are tagged, a few tags far more often than the rest
                first = TAGS[min(int(rng.expovariate(0.35)), len(TAGS) - 1)]
                tags.append((run_id, first))
                if r < 0.05:
                    second = TAGS[rng.randrange(len(TAGS))]
                    if second != first:
                        tags.append((run_id, second))
            if stop > 0 and n_steps > 1:  # the first step's output, read by the second step
                p.versions += 1
                vid = ids()
                content = ids.hex64()
                versions.append((
                    vid, p.artifact_id, p.versions, f"s3://runyard-artifacts/{content[:2]}/{content}", content,
                    rng.randrange(1_000, 500_000_000), "runyard.pandas", "pandas.core.frame.DataFrame",
                    self.store_id, step_ids[0], '{"rows": 125000, "columns": 42}', steps[-n_steps][16],
                ))
                edges.append((step_ids[0], "output", "output", vid))
                edges.append((step_ids[1], "input", "data", vid))
        for table, rows in out.items():
            self.counts[table] += len(rows)
        return out

    def _big_run(self, out: dict[str, list[tuple[Any, ...]]], created: datetime) -> None:
        """One completed run of ``big_run_steps`` chained steps, each writing an artifact version."""
        big, ids, rng = self.big, self.ids, self.rng
        assert big is not None
        run_id = self.big_run_id = ids()
        cts = _ts(created)
        t = created
        previous: str | None = None
        for k, name in enumerate(big.steps):
            sid = ids()
            s_created = _ts(t)
            t = t + timedelta(seconds=0.5 + 3 * rng.random())
            out["step_runs"].append((
                sid, run_id, big.id, name, name, "completed", f'{{"shard": {k}}}', big.source_hashes[k], ids.hex64(),
                big.cache_parts[k], None, None, None, 1, s_created, s_created, _ts(t), '{"rows_out": 125000}',
            ))
            vid = ids()
            content = ids.hex64()
            out["artifact_versions"].append((
                vid, f"{big.artifact_id[:-4]}{k:04x}", 1, f"s3://runyard-artifacts/{content[:2]}/{content}", content,
                rng.randrange(1_000, 50_000_000), "runyard.pandas", "pandas.core.frame.DataFrame", self.store_id, sid,
                '{"rows": 125000, "columns": 42}', _ts(t),
            ))
            out["step_run_artifacts"].append((sid, "output", "output", vid))
            if previous is not None:
                out["step_run_artifacts"].append((sid, "input", "data", previous))
            previous = vid
        ended = _ts(t)
        out["runs"].append((
            run_id, _run_name(BIG_PIPELINE, cts),
            big.id, big.snapshot_id, self.stack_id, "completed", "{}", None, None, cts, ended, cts, ended, ended,
            f'{{"steps": {len(big.steps)}}}',
        ))
        out["run_tags"].append((run_id, "big"))
        big.runs += 1
        big.statuses["completed"] = 1
        big.versions = 1

    def artifact_rows(self) -> list[tuple[Any, ...]]:
        created = _ts(self.start)
        rows = [(p.artifact_id, p.artifact_name, p.versions, created) for p in self.pipelines]
        if self.big is not None and self.big_run_id is not None:
            rows += [(f"{self.big.artifact_id[:-4]}{k:04x}", f"{BIG_PIPELINE}.{name}.output", 1, created)
                     for k, name in enumerate(self.big.steps)]
        self.counts["artifacts"] += len(rows)
        return rows


# --- pipelines and snapshots (through the service layer) ----------------------------------------------
def _pipeline_names(n: int) -> list[str]:
    names = [f"{d}_{k}" for k in KINDS for d in DOMAINS]
    while len(names) < n:
        names.append(f"pipeline_{len(names):03d}")
    return names[:n]


def _create_pipelines(db: Any, cfg: SeedConfig, rng: random.Random) -> tuple[list[Pipeline], Pipeline | None, str, str]:
    from runyard.schemas.pipelines import PipelineCreate, SnapshotCreate
    from runyard.workspace.services import pipelines as service
    from runyard.workspace.services.stacks import ensure_default_stack

    with db.session(write=True) as session:
        stack = ensure_default_stack(session)
        store_id = stack.components["artifact_store"].id.hex
        made: list[Pipeline] = []
        specs = [(name, cfg.steps_per_run) for name in _pipeline_names(cfg.pipelines)]
        if cfg.big_run_steps > 0:
            specs.append((BIG_PIPELINE, cfg.big_run_steps))
        for name, n_steps in specs:
            steps = [STEP_WORDS[k] if n_steps <= len(STEP_WORDS) else f"step_{k:04d}" for k in range(n_steps)]
            hashes = [_sha(f"{name}:{s}") for s in steps]
            cache = name == BIG_PIPELINE or rng.random() < 0.5
            pipeline = PipelineCreate(name=name, docstring=f"The {name} pipeline.")
            pid = service.get_or_create_pipeline(session, pipeline=pipeline).id
            spec = _spec(name, steps, hashes, {"lr": 0.01, "epochs": 10})
            snap = service.create_snapshot(session, snapshot=SnapshotCreate(
                pipeline_id=pid, stack_id=stack.id, spec=spec, spec_hash=_sha(json.dumps(spec, sort_keys=True)),
                config={"orchestrator": {}, "continue_on_failure": None},
                code_reference={"module": f"{name}.pipeline"}))
            made.append(Pipeline(
                name=name, id=pid.hex, snapshot_id=snap.id.hex, steps=steps, cache=cache, source_hashes=hashes,
                cache_parts=[_cache_parts(h, store_id, first=k == 0, enabled=cache) for k, h in enumerate(hashes)],
                artifact_id=uuid.uuid4().hex, artifact_name=f"{name}.{steps[0]}.output",
            ))
    big = made.pop() if cfg.big_run_steps > 0 else None
    return made, big, stack.id.hex, store_id


# --- PostgreSQL bulk load -----------------------------------------------------------------------------
_CONSTRAINTS_SQL = """
SELECT c.conrelid::regclass::text, c.conname, c.contype, pg_get_constraintdef(c.oid)
FROM pg_constraint c
WHERE c.contype IN ('p', 'u', 'f')
  AND (c.conrelid = ANY(%(t)s::regclass[]) OR c.confrelid = ANY(%(t)s::regclass[]))
ORDER BY 1, 2
"""
_INDEXES_SQL = """
SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid = ANY(%(t)s::regclass[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u'))
ORDER BY 1, 2
"""


def _catalog(conn: Any, tables: Sequence[str]) -> tuple[list[tuple[str, str, str, str]], list[tuple[str, str, str]]]:
    cons = conn.execute(_CONSTRAINTS_SQL, {"t": list(tables)}).fetchall()
    idx = conn.execute(_INDEXES_SQL, {"t": list(tables)}).fetchall()
    return [tuple(r) for r in cons], [tuple(r) for r in idx]


def _pg_load(dsn: str, gen: Generator, log: Callable[[str], None]) -> dict[str, float]:
    import psycopg

    tables = list(COLUMNS)
    timings: dict[str, float] = {}
    with psycopg.connect(dsn, autocommit=True) as admin:
        for table, cols in COLUMNS.items():
            have = {r[0] for r in admin.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))}
            if have - DEFAULTED != set(cols):
                raise SystemExit(f"seed.py is out of date with the schema of {table}: the table has {sorted(have)}, "
                                 f"the generator writes {sorted(cols)}")
        cons, idx = _catalog(admin, tables)
        t0 = time.perf_counter()
        for tbl, name, kind, _ in cons:  # foreign keys first: they depend on the primary keys
            if kind == "f":
                admin.execute(f'ALTER TABLE {tbl} DROP CONSTRAINT "{name}"')
        for tbl, name, kind, _ in cons:
            if kind in "pu":
                admin.execute(f'ALTER TABLE {tbl} DROP CONSTRAINT "{name}"')
        for _, name, _ in idx:
            admin.execute(f"DROP INDEX {name}")
        timings["drop constraints and indexes"] = time.perf_counter() - t0
        log(f"  dropped {len(cons)} constraints and {len(idx)} indexes of {', '.join(tables)} for the load")

        # one connection per table, each one transaction: TRUNCATE + COPY FREEZE writes the rows frozen and
        # all-visible (as a long-lived, vacuumed database has them) without a later VACUUM pass
        t0 = time.perf_counter()
        with contextlib.ExitStack() as stack:
            copies: dict[str, Any] = {}
            for table, cols in COLUMNS.items():
                # leaving the connection's context commits (after its COPY has ended), or rolls back on error
                conn = stack.enter_context(psycopg.connect(dsn))
                conn.execute("SET synchronous_commit = off")
                conn.execute(f"TRUNCATE {table}")
                cur = stack.enter_context(conn.cursor())
                copies[table] = stack.enter_context(
                    cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN (FREEZE)"))
            done = 0
            last = time.perf_counter()
            for batch in gen.batches():
                for table, rows in batch.items():
                    write = copies[table].write_row
                    for row in rows:
                        write(row)
                done += len(batch["runs"])
                now = time.perf_counter()
                if now - last > 15:
                    last = now
                    rate = gen.counts["step_runs"] / (now - t0)
                    log(f"  {done:,} runs, {gen.counts['step_runs']:,} step runs ({rate:,.0f} step rows/s) ...")
            for row in gen.artifact_rows():
                copies["artifacts"].write_row(row)
        timings["generate + COPY"] = time.perf_counter() - t0
        log(f"  COPY done in {timings['generate + COPY']:.1f} s; rebuilding constraints and indexes ...")

        t0 = time.perf_counter()
        admin.execute("SET maintenance_work_mem = '1GB'")
        for tbl, name, kind, definition in cons:
            if kind in "pu":
                admin.execute(f'ALTER TABLE {tbl} ADD CONSTRAINT "{name}" {definition}')
        for _, _, definition in idx:
            admin.execute(definition)
        timings["primary keys, unique constraints, indexes"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for tbl, name, kind, definition in cons:
            if kind == "f":  # validated: the generated rows must satisfy every foreign key
                admin.execute(f'ALTER TABLE {tbl} ADD CONSTRAINT "{name}" {definition}')
        timings["foreign keys (validated)"] = time.perf_counter() - t0
        after = _catalog(admin, tables)
        if after != (cons, idx):
            raise SystemExit("the re-created constraints/indexes differ from the migrated schema:\n"
                             f"before {cons} {idx}\nafter {after}")
        t0 = time.perf_counter()
        admin.execute("ANALYZE")
        timings["ANALYZE"] = time.perf_counter() - t0
    return timings


# --- SQLite bulk load ---------------------------------------------------------------------------------
def _sqlite_load(path: Path, gen: Generator, log: Callable[[str], None]) -> dict[str, float]:
    timings: dict[str, float] = {}
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA foreign_keys=OFF")  # rows reference runs written in the same batch
        for table, cols in COLUMNS.items():
            have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            if have - DEFAULTED != set(cols):
                raise SystemExit(f"seed.py is out of date with the schema of {table}: {sorted(have)} vs {sorted(cols)}")
        sql = {t: f"INSERT INTO {t} ({', '.join(c)}) VALUES ({', '.join('?' * len(c))})" for t, c in COLUMNS.items()}
        t0 = time.perf_counter()
        for batch in gen.batches():
            conn.execute("BEGIN")
            for table in LOAD_ORDER:
                if batch[table]:
                    conn.executemany(sql[table], batch[table])
            conn.execute("COMMIT")
        conn.execute("BEGIN")
        conn.executemany(sql["artifacts"], gen.artifact_rows())
        conn.execute("COMMIT")
        timings["generate + INSERT"] = time.perf_counter() - t0
        bad = conn.execute("PRAGMA foreign_key_check").fetchmany(5)
        if bad:
            raise SystemExit(f"foreign key violations in the seeded rows: {bad}")
        t0 = time.perf_counter()
        conn.execute("ANALYZE")
        timings["ANALYZE"] = time.perf_counter() - t0
    finally:
        conn.close()
    return timings


# --- entry points -------------------------------------------------------------------------------------
def create_pg_database(admin_dsn: str = DEFAULT_PG_ADMIN, prefix: str = "runyard_bench",
                       name: str | None = None) -> tuple[str, str]:
    """Creates ``name`` (default ``<prefix>_<random>``); returns (its name, a libpq DSN for it)."""
    import psycopg

    if name is not None and not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise SystemExit(f"--name {name!r}: use lower-case letters, digits and underscores (a PostgreSQL name)")
    name = name or f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        try:
            conn.execute(f"CREATE DATABASE {name}")
        except psycopg.errors.DuplicateDatabase:
            raise SystemExit(f"database {name} exists already: drop it (DROP DATABASE {name}) or pick another "
                             "--name") from None
    return name, admin_dsn.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(name: str, admin_dsn: str = DEFAULT_PG_ADMIN) -> None:
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def sqlalchemy_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+psycopg://", 1)


def seed(database: str, cfg: SeedConfig, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Seeds a fresh workspace: ``database`` is a libpq DSN (``postgresql://...``) or ``sqlite:///PATH``.

    Returns the manifest (also what ``--manifest`` writes).
    """
    from runyard.workspace.db.engine import get_database, reset_databases

    is_pg = database.startswith("postgresql")
    url = sqlalchemy_url(database) if is_pg else database
    started = time.perf_counter()
    db = get_database(url)  # the real schema: migrations, default stack
    rng = random.Random(cfg.seed)
    pipes, big, stack_id, store_id = _create_pipelines(db, cfg, rng)
    reset_databases()
    timings = {"schema + pipelines + snapshots": time.perf_counter() - started}
    gen = Generator(cfg, pipes, stack_id, store_id, big)
    log(f"Seeding {cfg.runs:,} runs x {cfg.steps_per_run} steps, {len(pipes)} pipelines"
        + (f", a {cfg.big_run_steps:,}-step run" if big else "") + f" into {url} ...")
    if is_pg:
        timings.update(_pg_load(database, gen, log))
    else:
        timings.update(_sqlite_load(Path(url.split("///", 1)[1]), gen, log))
    total = time.perf_counter() - started
    rows = sum(gen.counts.values())
    by_size = sorted(pipes, key=lambda p: -p.runs)
    return {
        "database_url": url,
        "backend": "postgresql" if is_pg else "sqlite",
        "seeded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": {"runs": cfg.runs, "steps_per_run": cfg.steps_per_run, "pipelines": cfg.pipelines,
                   "big_run_steps": cfg.big_run_steps, "seed": cfg.seed},
        "rows": gen.counts,
        "total_rows": rows,
        "seconds": round(total, 1),
        "rows_per_s": round(rows / total),
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "big_run": {"id": str(uuid.UUID(gen.big_run_id)), "pipeline": BIG_PIPELINE, "steps": cfg.big_run_steps}
        if gen.big_run_id else None,
        "pipelines": [{"name": p.name, "id": str(uuid.UUID(p.id)), "runs": p.runs, "statuses": p.statuses}
                      for p in by_size],
        "tags": list(TAGS),
    }


def print_summary(manifest: dict[str, Any], log: Callable[[str], None] = print) -> None:
    rows = manifest["rows"]
    log(f"Seeded in {manifest['seconds']:.1f} s: {manifest['total_rows']:,} rows, {manifest['rows_per_s']:,} rows/s")
    for table, n in rows.items():
        log(f"  {table:<20} {n:>12,}")
    for step, secs in manifest["timings_s"].items():
        log(f"  {step:<45} {secs:>8.1f} s")
    if manifest["big_run"]:
        log(f"  big run: {manifest['big_run']['id']} ({manifest['big_run']['steps']:,} steps)")
    top = manifest["pipelines"][:3]
    log("  busiest pipelines: " + ", ".join(f"{p['name']} ({p['runs']:,} runs)" for p in top))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1_000_000, help="runs to create (default 1,000,000)")
    parser.add_argument("--steps-per-run", type=int, default=10, help="step runs per run (default 10)")
    parser.add_argument("--pipelines", type=int, default=50, help="pipelines the runs belong to (default 50)")
    parser.add_argument("--big-run-steps", type=int, default=1_000,
                        help="steps of the one big run, each with an artifact version (default 1,000; 0: none)")
    parser.add_argument("--batch-runs", type=int, default=5_000, help="runs generated per batch (default 5,000)")
    parser.add_argument("--seed", type=int, default=20261127, help="random seed (default 20261127)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--sqlite", type=Path, metavar="PATH", help="seed a new SQLite file instead of PostgreSQL")
    where.add_argument("--pg-admin-url", default=DEFAULT_PG_ADMIN,
                       help=f"PostgreSQL server to create the database on (default {DEFAULT_PG_ADMIN})")
    parser.add_argument("--name", help="name of the PostgreSQL database to create (default runyard_bench_<random>); "
                        "it must not exist yet")
    parser.add_argument("--keep", action="store_true", help="keep the database (default: drop it at the end)")
    parser.add_argument("--manifest", type=Path,
                        help="write the manifest here (default with --keep: .bench/seed-<database>.json)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.steps_per_run < 2:
        parser.error("--runs must be >= 1 and --steps-per-run >= 2")

    os.environ.setdefault("RUNYARD_HOME", str(REPO / ".bench" / "seed-home"))
    sys.path.insert(0, str(REPO / "src"))
    cfg = SeedConfig(runs=args.runs, steps_per_run=args.steps_per_run, pipelines=args.pipelines,
                     big_run_steps=args.big_run_steps, batch_runs=args.batch_runs, seed=args.seed)
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    name: str | None = None
    if args.sqlite is not None:
        if args.sqlite.exists():
            parser.error(f"{args.sqlite} exists; seed.py fills a new file only")
        database = f"sqlite:///{args.sqlite.resolve()}"
        label = args.sqlite.stem
    else:
        name, database = create_pg_database(args.pg_admin_url, name=args.name)
        label = name
    try:
        manifest = seed(database, cfg)
        print_summary(manifest)
        path = args.manifest or (REPO / ".bench" / f"seed-{label}.json" if args.keep else None)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(manifest, indent=2))
            print(f"manifest: {path}")
        print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if args.keep:
            print(f"kept: {sqlalchemy_url(database) if name else database}")
        elif name is not None:
            drop_pg_database(name, args.pg_admin_url)
            print(f"dropped database {name}")
        elif args.sqlite is not None:
            for suffix in ("", "-wal", "-shm", ".migrate.lock"):
                Path(f"{args.sqlite}{suffix}").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
