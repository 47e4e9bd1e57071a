"""Workspace logic: module-level functions taking a session and keyword arguments.

HTTP routes and the in-process client transport call exactly these functions; neither adds logic.
"""
