"""Artifact stores. Built-ins register through the ``runyard.artifact_stores`` entry point group."""
