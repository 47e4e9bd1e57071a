"""Step and run logs: capture (capture.py), the record format (records.py), backends (backends/)."""
