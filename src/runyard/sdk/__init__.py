"""Authoring: ``@step`` and ``@pipeline``, pipeline compilation, configuration files, the step context."""
