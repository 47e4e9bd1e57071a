"""The ``runyard`` command: init, run, artifact, pipeline and stack commands, human and JSON output, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pytest
from typer.testing import CliRunner

from runyard import Client, pipeline, step
from runyard.cli.main import app


@step
def rows(n: int = 3) -> Annotated[list[int], "cli_rows"]:
    return list(range(n))


@step
def mean(values: list[int]) -> Annotated[float, "cli_mean"]:
    return sum(values) / len(values)


@step(enable_cache=False)
def crash(values: list[int]) -> Annotated[int, "never"]:
    raise KeyError(f"missing column {len(values)}")


@pipeline
def cli_pipeline(n: int = 3) -> None:
    mean(rows(n=n))


@pipeline
def cli_failing() -> None:
    crash(rows())


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    from runyard.cli import output

    monkeypatch.setattr(output.console, "_width", 250)  # a wide terminal: table cells are not folded
    return CliRunner()


def invoke(runner: CliRunner, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, f"{args}: exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result


def as_json(runner: CliRunner, *args: str) -> Any:
    return json.loads(invoke(runner, *args, "-o", "json").stdout)


def test_init_creates_the_workspace_and_default_stack(runner: CliRunner, runyard_home: Path) -> None:
    result = invoke(runner, "init")
    assert "Workspace ready" in result.stdout
    assert (runyard_home / "workspace.db").exists()
    stack = Client().get_stack("default")
    assert set(stack.components) == {"orchestrator", "artifact_store"}
    assert stack.components["orchestrator"].flavor == "local"
    invoke(runner, "init")  # idempotent
    assert [s.name for s in Client().list_stacks()] == ["default"]


def test_init_with_home_option(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "elsewhere"
    monkeypatch.setenv("RUNYARD_HOME", str(home))  # restored after the test, as `--home` overwrites it
    result = invoke(runner, "init", "--home", str(home))
    assert str(home) in result.stdout.replace("\n", "")
    assert (home / "workspace.db").exists()


def test_run_list_and_show_in_table_and_json(runner: CliRunner) -> None:
    ok = cli_pipeline(n=4)
    bad = cli_failing()

    table = invoke(runner, "run", "list").stdout
    assert "cli_pipeline" in table and "cli_failing" in table
    assert "completed" in table and "failed" in table

    listed = as_json(runner, "run", "list")
    assert [r["id"] for r in listed["items"]] == [str(bad.id), str(ok.id)]
    assert listed["next_cursor"] is None
    assert listed["items"][1]["status"] == "completed"
    assert listed["items"][1]["parameters"] == {"n": 4}

    failed_only = as_json(runner, "run", "list", "--status", "failed")
    assert [r["id"] for r in failed_only["items"]] == [str(bad.id)]
    by_pipeline = as_json(runner, "run", "list", "--pipeline", "cli_pipeline")
    assert [r["id"] for r in by_pipeline["items"]] == [str(ok.id)]

    page = as_json(runner, "run", "list", "-n", "1")
    assert [r["id"] for r in page["items"]] == [str(bad.id)]
    rest = as_json(runner, "run", "list", "-n", "1", "--cursor", page["next_cursor"])
    assert [r["id"] for r in rest["items"]] == [str(ok.id)]
    more = invoke(runner, "run", "list", "-n", "1").stdout
    assert "runyard run list --cursor" in more

    shown = invoke(runner, "run", "show", str(ok.id)).stdout
    assert ok.name in shown
    assert "rows" in shown and "mean" in shown
    assert "cli_mean=v1" in shown

    detail = as_json(runner, "run", "show", str(ok.id))
    assert detail["id"] == str(ok.id)
    assert detail["status"] == "completed"
    assert {k: v["status"] for k, v in detail["steps"].items()} == {"rows": "completed", "mean": "completed"}
    assert detail["steps"]["mean"]["outputs"]["cli_mean"]["version"] == 1


def test_run_show_of_a_failed_run_prints_the_user_traceback(runner: CliRunner) -> None:
    bad = cli_failing()
    out = invoke(runner, "run", "show", str(bad.id)).stdout
    assert "failed" in out
    assert "KeyError" in out and "missing column 3" in out
    assert "in crash" in out
    assert "step_runner.py" not in out
    detail = as_json(runner, "run", "show", str(bad.id))
    assert detail["status"] == "failed"
    assert detail["steps"]["crash"]["status"] == "failed"
    assert "in crash" in detail["steps"]["crash"]["traceback"]


def test_artifact_list_and_show(runner: CliRunner) -> None:
    first = cli_pipeline(n=2)
    second = cli_pipeline(n=5)

    table = invoke(runner, "artifact", "list").stdout
    assert "cli_rows" in table and "cli_mean" in table

    listed = as_json(runner, "artifact", "list")
    assert {(v["name"], v["version"]) for v in listed["items"]} == {
        ("cli_rows", 1), ("cli_mean", 1), ("cli_rows", 2), ("cli_mean", 2)
    }
    only = as_json(runner, "artifact", "list", "--name", "cli_mean")
    assert [v["version"] for v in only["items"]] == [2, 1]
    by_run = as_json(runner, "artifact", "list", "--run", str(first.id))
    assert {v["name"] for v in by_run["items"]} == {"cli_rows", "cli_mean"}
    assert all(v["version"] == 1 for v in by_run["items"])

    shown = invoke(runner, "artifact", "show", "cli_rows").stdout
    assert "cli_rows" in shown and "version 2" in shown
    assert second.steps["rows"].outputs["cli_rows"].content_hash in shown.replace("\n", "")
    assert "produced by step" in shown and "consumed by step" in shown

    detail = as_json(runner, "artifact", "show", "cli_rows", "--version", "1")
    assert detail["version"] == 1
    assert detail["id"] == str(first.steps["rows"].outputs["cli_rows"].id)
    assert detail["lineage"]["producer"]["run_id"] == str(first.id)
    assert [c["invocation_id"] for c in detail["lineage"]["consumers"]] == ["mean"]


def test_pipeline_list_json(runner: CliRunner) -> None:
    cli_pipeline()
    listed = as_json(runner, "pipeline", "list")
    assert [p["name"] for p in listed["items"]] == ["cli_pipeline"]


def test_stack_commands_register_list_describe_and_set(runner: CliRunner) -> None:
    invoke(runner, "stack", "component", "register", "orchestrator", "par", "-f", "local_parallel",
           "-c", "max_workers=2")
    comps = as_json(runner, "stack", "component", "list")
    par = next(c for c in comps if c["name"] == "par")
    assert par["flavor"] == "local_parallel"
    assert par["config"] == {"max_workers": 2}  # JSON values are parsed

    out = invoke(runner, "stack", "register", "fast", "-o", "par").stdout
    assert "Registered stack fast" in out
    stacks = as_json(runner, "stack", "list")
    assert {s["name"]: s["active"] for s in stacks} == {"default": True, "fast": False}
    assert "fast" in invoke(runner, "stack", "list").stdout

    described = as_json(runner, "stack", "describe", "fast")
    assert described["components"]["orchestrator"]["name"] == "par"
    assert described["components"]["artifact_store"]["name"] == "default"
    assert "local_parallel" in invoke(runner, "stack", "describe", "fast").stdout

    invoke(runner, "stack", "set", "fast")
    assert {s["name"]: s["active"] for s in as_json(runner, "stack", "list")}["fast"] is True
    assert as_json(runner, "stack", "describe")["name"] == "fast"  # no name: the active stack
    assert Client().active_stack.name == "fast"

    # a run now uses the active stack and records it
    run = cli_pipeline()
    assert run.status == "completed"
    assert run.stack_id == Client().get_stack("fast").id
    snapshot = Client().api.get_snapshot(run.snapshot_id)
    assert snapshot.stack_id == run.stack_id


def test_stack_register_with_set_activates_it(runner: CliRunner) -> None:
    invoke(runner, "stack", "register", "other", "--set")
    assert Client().active_stack.name == "other"


@pytest.mark.parametrize(
    ("args", "message", "fix"),
    [
        (("run", "show", "not-an-id"), "'not-an-id' is not a run id.", "Ids look like"),
        (("run", "show", "00000000-0000-0000-0000-000000000000"), "No run with id", "runyard run list"),
        (("artifact", "show", "missing"), "No artifact 'missing'.", "runyard artifact list"),
        (("stack", "set", "nope"), "No stack named 'nope'.", "runyard stack list"),
        (("stack", "describe", "nope"), "No stack named 'nope'.", "runyard stack list"),
        (("stack", "register", "x", "-o", "ghost"), "No orchestrator named 'ghost'.", "component list"),
        (("stack", "component", "register", "orchestrator", "o", "-f", "nope"),
         "No orchestrator flavor named 'nope'.", "local_parallel"),
        (("stack", "component", "register", "orchestrator", "o", "-f", "local", "-c", "novalue"),
         "is not KEY=VALUE", "--config max_workers=4"),
        (("run", "list", "--cursor", "garbage!"), "cursor is not valid", "next_cursor"),
    ],
)
def test_errors_print_one_line_with_a_fix_and_no_traceback(
    runner: CliRunner, args: tuple[str, ...], message: str, fix: str
) -> None:
    result = invoke(runner, *args, code=1)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("Error: ") and message in lines[0]
    assert lines[1].startswith("Fix: ") and fix in lines[1]
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_long_error_messages_are_not_wrapped(runner: CliRunner) -> None:
    name = "an-artifact-name-long-enough-that-a-terminal-of-eighty-columns-would-wrap-it"
    result = invoke(runner, "artifact", "show", name, code=1)
    lines = result.stderr.strip().splitlines()
    assert lines[0] == f"Error: No artifact {name!r}."
    assert len(lines) == 2


def test_error_messages_are_printed_verbatim_not_as_markup(runner: CliRunner) -> None:
    result = invoke(runner, "artifact", "show", "[bold]x[/bold]", code=1)
    assert "[bold]x[/bold]" in result.stderr


@step(enable_cache=False)
def bracketed() -> Annotated[int, "bracketed_out"]:
    raise ValueError("bad path [/tmp/x] and [bold]not bold[/bold]")


@pipeline
def bracket_pipeline() -> None:
    bracketed()


def test_run_show_prints_user_text_with_brackets_verbatim(runner: CliRunner) -> None:
    run = bracket_pipeline.with_options(run_name="nightly [/weird]", tags=["[red]tag"])()
    shown = invoke(runner, "run", "show", str(run.id)).stdout
    assert "nightly [/weird]" in shown
    assert "ValueError: bad path [/tmp/x] and [bold]not bold[/bold]" in shown
    listed = invoke(runner, "run", "list").stdout
    assert "nightly [/weird]" in listed
    assert "[red]tag" in listed
    assert "failed" in listed


def test_a_table_too_wide_for_the_terminal_leaves_columns_out_and_says_so(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runyard.cli import output

    run = cli_pipeline(n=2)
    monkeypatch.setattr(output.console, "_width", 80)  # what a pipe or an 80-column terminal gives
    narrow = invoke(runner, "run", "list").stdout
    assert str(run.id) in narrow and "completed" in narrow  # whole, not squeezed to "complet"
    assert all(len(line) <= 80 for line in narrow.splitlines())
    assert "Not shown, for the terminal's width: Created, Duration, Tags" in " ".join(narrow.split())
    monkeypatch.setattr(output.console, "_width", 200)
    wide = invoke(runner, "run", "list").stdout
    assert "Not shown" not in wide and "Duration" in wide and "Created" in wide


def test_help_text_is_folded_into_paragraphs(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """Docstrings are wrapped at 120 columns in the source; --help reflows them to the terminal."""
    monkeypatch.setenv("COLUMNS", "250")
    shown = invoke(runner, "run", "retry", "--help").stdout
    lines = [line.strip() for line in shown.splitlines()]
    # the docstring's first paragraph spans two source lines; at 250 columns it is one line of help
    assert any(line.startswith("Run a failed or cancelled run again here") and line.endswith("steps execute.")
               for line in lines), shown


def test_ids_and_paths_stay_whole_in_a_narrow_terminal(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """They are copied into the next command: the terminal may wrap them, the CLI must not cut them."""
    from runyard.cli import output

    run = cli_pipeline(n=3)
    monkeypatch.setattr(output.console, "_width", 60)
    version = run.steps["mean"].outputs["cli_mean"]
    shown = invoke(runner, "artifact", "show", "cli_mean").stdout
    assert f"uri {version.uri}" in shown.splitlines()
    assert any(line.endswith(str(run.id)) for line in shown.splitlines() if line.startswith("produced by"))
    assert f"id {run.id}" in invoke(runner, "run", "show", str(run.id)).stdout
