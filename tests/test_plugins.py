"""Entry point discovery: the one-scan reader agrees with importlib.metadata and finds a new distribution."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points as std_entry_points
from pathlib import Path

import pytest

from runyard import plugins
from runyard.stack.flavors import GROUPS


@pytest.mark.parametrize("group", [*GROUPS.values(), "runyard.materializers"])
def test_agrees_with_importlib_metadata(group: str) -> None:
    plugins.reset()
    expected = {ep.name: ep.value for ep in std_entry_points(group=group)}
    assert plugins.entry_points(group) == expected


def test_finds_a_plugin_distribution_on_sys_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "ry_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "entry_points.txt").write_text(
        "[console_scripts]\nx = ry_plugin:main\n\n[runyard.materializers]\n"
        "# a comment\nry_plugin.thing = ry_plugin.mats:ThingMaterializer [extra]\n"
    )
    shadowed = tmp_path / "second"
    (shadowed / "ry_plugin-0.9.dist-info").mkdir(parents=True)  # later on sys.path: the first one wins
    (shadowed / "ry_plugin-0.9.dist-info" / "entry_points.txt").write_text("[runyard.materializers]\nold = a:B\n")
    (tmp_path / "ry_plugin").mkdir()
    (tmp_path / "ry_plugin" / "__init__.py").write_text("")
    (tmp_path / "ry_plugin" / "mats.py").write_text("class ThingMaterializer:\n    class Inner:\n        pass\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path), str(shadowed), *sys.path])
    plugins.reset()
    try:
        found = plugins.entry_points("runyard.materializers")
        assert found == {"ry_plugin.thing": "ry_plugin.mats:ThingMaterializer [extra]"}
        assert plugins.entry_points("console_scripts") == {}, "only runyard groups are kept"
        assert plugins.load(found["ry_plugin.thing"]).__name__ == "ThingMaterializer"
        assert plugins.load("ry_plugin.mats:ThingMaterializer.Inner").__qualname__ == "ThingMaterializer.Inner"
    finally:
        sys.modules.pop("ry_plugin.mats", None)
        sys.modules.pop("ry_plugin", None)
        plugins.reset()


def _fresh_process(code: str, extra_path: Path | None = None) -> str:
    import os
    import subprocess

    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


_USE_A_MODEL = (
    "import sys, runyard.schemas as s; s.PipelineCreate(name='x').model_dump_json(); "
    "found = sys.modules['pydantic.plugin._loader'].get_plugins(); "
    "print('importlib.metadata' in sys.modules, type(found).__name__, len(list(found)))"
)


def test_pydantic_skips_its_plugin_scan_when_no_plugin_is_installed() -> None:
    """Our one scan already read every entry_points.txt: with no [pydantic] section anywhere, a process
    validating models never imports importlib.metadata for pydantic's own scan."""
    assert not plugins.entry_points(plugins.PYDANTIC_GROUP)
    assert _fresh_process(_USE_A_MODEL) == "False tuple 0"


def test_an_installed_pydantic_plugin_is_loaded_by_pydantic_as_always(tmp_path: Path) -> None:
    dist = tmp_path / "ry_pyd_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ry-pyd-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pydantic]\nry = ry_pyd_plugin:plugin\n")
    (tmp_path / "ry_pyd_plugin.py").write_text(
        "class _Plugin:\n    def new_schema_validator(self, *args, **kwargs):\n        return None, None, None\n"
        "plugin = _Plugin()\n"
    )
    out = _fresh_process(_USE_A_MODEL, extra_path=tmp_path)
    assert out == "True dict_values 1"  # pydantic's own loader ran (it imports importlib.metadata) and found it
