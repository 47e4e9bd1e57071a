"""The double-submit CSRF cookie shared by the control plane's forms and the dashboard's scripts.

A leaf module (no imports from the rest of the control plane), so the dashboard of a Workspace Server
without a control plane can name the cookie without loading the control plane.
"""

from __future__ import annotations

#: ``SameSite=Strict``, ``HttpOnly``; a form field or the ``X-CSRF-Token`` header must repeat its value.
CSRF_COOKIE = "ry_cp_csrf"
CSRF_HEADER = "x-csrf-token"
