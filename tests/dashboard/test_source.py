

def test_the_recorded_source_wins_even_for_a_script_run_directly() -> None:
    from runyard.dashboard.source import step_source

    found = step_source({"source": "__main__:train", "source_hash": "x", "source_code": "def train():\n    pass\n"})
    assert found.text == "def train():\n    pass\n" and found.matches_run is True
    fallback = step_source({"source": "__main__:train", "source_hash": "x"})
    assert fallback.text is None and "__main__" in fallback.reason
