"""Run configuration files (``pipeline.with_options(config_path="run.yaml")``).

```yaml
run_name: nightly-{date}
enable_cache: false
tags: [nightly]
parameters: {rows: 500}           # pipeline parameters
steps:
  train:
    parameters: {lr: 0.05}        # step parameters
    enable_cache: false
    retries: {max: 2, delay: 1, backoff: 2}   # or just `retries: 2`
orchestrator: {name: local_parallel, max_workers: 4}
continue_on_failure: true
stack: default
```
Unknown keys are errors that name the key, the file and the keys allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runyard.exceptions import ConfigurationError
from runyard.sdk.spec import RetryPolicy

if TYPE_CHECKING:  # pathlib (with urllib.parse and ipaddress) is loaded when a file is read, not on import
    from pathlib import Path

_TOP_KEYS = {
    "run_name", "enable_cache", "tags", "parameters", "steps", "orchestrator", "continue_on_failure", "stack",
}
_STEP_KEYS = {"parameters", "enable_cache", "retries"}
_RETRY_KEYS = {"max", "delay", "backoff"}


@dataclass(frozen=True)
class RunConfig:
    run_name: str | None = None
    enable_cache: bool | None = None
    tags: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    orchestrator: dict[str, Any] = field(default_factory=dict)
    continue_on_failure: bool | None = None
    stack: str | None = None

    def merged(self, other: RunConfig) -> RunConfig:
        """``other`` wins where it sets a value."""
        steps = {k: dict(v) for k, v in self.steps.items()}
        for name, conf in other.steps.items():
            steps.setdefault(name, {}).update(conf)
        return RunConfig(
            run_name=other.run_name or self.run_name,
            enable_cache=self.enable_cache if other.enable_cache is None else other.enable_cache,
            tags=tuple(dict.fromkeys([*self.tags, *other.tags])),
            parameters={**self.parameters, **other.parameters},
            steps=steps,
            orchestrator={**self.orchestrator, **other.orchestrator},
            continue_on_failure=(
                self.continue_on_failure if other.continue_on_failure is None else other.continue_on_failure
            ),
            stack=other.stack or self.stack,
        )


def load_config(path: str | Path) -> RunConfig:
    from pathlib import Path

    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except FileNotFoundError:
        raise ConfigurationError(f"Configuration file {str(p)!r} does not exist.", hint="Check the path.") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"Configuration file {str(p)!r} is not valid YAML: {exc}") from None
    return parse_config(data, source=str(p))


def parse_config(data: Any, *, source: str = "configuration") -> RunConfig:
    if not isinstance(data, dict):
        raise ConfigurationError(f"{source}: the top level must be a mapping of keys to values.")
    _no_unknown(data, _TOP_KEYS, source)
    steps: dict[str, dict[str, Any]] = {}
    for name, conf in (data.get("steps") or {}).items():
        where = f"{source}: steps.{name}"
        if not isinstance(conf, dict):
            raise ConfigurationError(f"{where} must be a mapping.")
        _no_unknown(conf, _STEP_KEYS, where)
        out: dict[str, Any] = {}
        if "parameters" in conf:
            out["parameters"] = _mapping(conf["parameters"], f"{where}.parameters")
        if "enable_cache" in conf:
            out["enable_cache"] = _bool(conf["enable_cache"], f"{where}.enable_cache")
        if "retries" in conf:
            out["retry"] = _retry(conf["retries"], f"{where}.retries")
        steps[str(name)] = out
    tags = data.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ConfigurationError(f"{source}: tags must be a list of strings.")
    orchestrator = data.get("orchestrator") or {}
    if isinstance(orchestrator, str):
        orchestrator = {"name": orchestrator}
    return RunConfig(
        run_name=_optional_str(data.get("run_name"), f"{source}: run_name"),
        enable_cache=_bool(data["enable_cache"], f"{source}: enable_cache") if "enable_cache" in data else None,
        tags=tuple(tags),
        parameters=_mapping(data.get("parameters") or {}, f"{source}: parameters"),
        steps=steps,
        orchestrator=_mapping(orchestrator, f"{source}: orchestrator"),
        continue_on_failure=(
            _bool(data["continue_on_failure"], f"{source}: continue_on_failure")
            if data.get("continue_on_failure") is not None else None
        ),
        stack=_optional_str(data.get("stack"), f"{source}: stack"),
    )


def _no_unknown(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(map(str, data)) - allowed)
    if unknown:
        raise ConfigurationError(
            f"{where}: unknown key {unknown[0]!r}.", hint=f"Allowed keys: {', '.join(sorted(allowed))}."
        )


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigurationError(f"{where} must be a mapping of names to values.")
    return dict(value)


def _optional_str(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"{where} must be a string, not {value!r}.")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(f"{where} must be true or false, not {value!r}.")
    return value


def _retry(value: Any, where: str) -> RetryPolicy:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return RetryPolicy(max_retries=value)
    if isinstance(value, dict):
        _no_unknown(value, _RETRY_KEYS, where)
        try:
            return RetryPolicy(
                max_retries=int(value.get("max", 0)),
                delay=float(value.get("delay", 0.0)),
                backoff=float(value.get("backoff", 1.0)),
            )
        except (TypeError, ValueError):
            pass
    raise ConfigurationError(f"{where} must be a count (e.g. 2) or {{max: 2, delay: 1, backoff: 2}}.")
