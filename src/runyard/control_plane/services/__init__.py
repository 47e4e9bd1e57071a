"""Control-plane logic: module-level functions taking a session and keyword arguments, no HTTP."""
