"""Secrets in pipelines: ``runyard.secrets.get_secret(name)`` inside a step.

```python
from runyard.secrets import get_secret

@step
def load() -> ...:
    db = get_secret("warehouse")          # {"user": ..., "password": ...}
    connect(db["user"], db["password"])
```

The values come from the workspace (needing ``secrets:read_secret_values``; the read is audited on a
server with authentication) and every value is registered with :mod:`runyard.logs.masking`, so a value
the step prints or logs is stored as ``***`` in its captured log. Values are never cached on disk.
"""

from __future__ import annotations


def get_secret(name: str) -> dict[str, str]:
    """The values of secret ``name`` (key -> value), masked in every log captured from now on.

    Inside a step it asks with the step's own client: on a server with logins that is the run's workload
    token, which may read what the run's creator may read (see docs/control-plane.md)."""
    from runyard.client.client import Client
    from runyard.sdk.context import current_step_context

    ctx = current_step_context()
    return dict(Client(ctx.api if ctx is not None else None).get_secret(name).values)


__all__ = ["get_secret"]
