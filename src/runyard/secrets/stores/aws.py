"""The ``aws`` secret store: values kept in AWS Secrets Manager, metadata in the workspace database.

Each Runyard secret is one AWS secret named ``RUNYARD_SECRETS_AWS_PREFIX`` + the secret's id (ids never
collide between workspaces sharing an account, and survive nothing but the secret itself), holding the
JSON of the values as its ``SecretString`` and tagged with the Runyard name. Region, credentials and
endpoint come from the standard AWS configuration (``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL``, roles,
profiles), as for any AWS tool; boto3 is imported only when the store is used (``runyard[aws]``).

The store is called inside the workspace's database transaction: a write or delete in AWS happens just
before the row commits, so a failed commit can leave an orphaned AWS secret (never a row whose values
were silently lost); the row can then be written again.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from runyard.exceptions import ConfigurationError, SecretStoreError, ServerUnavailable
from runyard.secrets.stores.base import SecretStore

if TYPE_CHECKING:
    from runyard.settings import Settings
    from runyard.workspace.db.models import SecretRow


class AwsSecretStore(SecretStore):
    def __init__(self, *, prefix: str = "runyard/") -> None:
        self.prefix = prefix
        self._client: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretStore:
        return cls(prefix=settings.secrets_aws_prefix)

    def _aws(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    try:
                        import boto3
                    except ImportError:
                        raise ConfigurationError("The aws secret store needs boto3.",
                                                 hint="pip install 'runyard[aws]' where the workspace runs.") from None
                    from botocore.exceptions import NoRegionError

                    try:
                        self._client = boto3.client("secretsmanager")
                    except NoRegionError:
                        raise ConfigurationError("The aws secret store has no AWS region.",
                                                 hint="Set AWS_DEFAULT_REGION where the workspace runs.") from None
        return self._client

    def _id(self, row: SecretRow) -> str:
        return f"{self.prefix}{row.id}"

    def write(self, row: SecretRow, values: dict[str, str]) -> None:
        text = json.dumps(values, sort_keys=True)
        client = self._aws()
        with _aws_errors(row.name):
            try:
                client.put_secret_value(SecretId=self._id(row), SecretString=text)
            except client.exceptions.ResourceNotFoundException:
                client.create_secret(Name=self._id(row), SecretString=text,
                                     Tags=[{"Key": "runyard:secret", "Value": row.name}])
        row.key_id, row.ciphertext = None, None

    def read(self, row: SecretRow) -> dict[str, str]:
        client = self._aws()
        with _aws_errors(row.name):
            answer = client.get_secret_value(SecretId=self._id(row))
        values: dict[str, str] = json.loads(answer["SecretString"])
        return values

    def delete(self, row: SecretRow) -> None:
        client = self._aws()
        with _aws_errors(row.name):
            try:
                client.delete_secret(SecretId=self._id(row), ForceDeleteWithoutRecovery=True)
            except client.exceptions.ResourceNotFoundException:
                pass  # already gone: deleting is idempotent


@contextmanager
def _aws_errors(name: str) -> Iterator[None]:
    """AWS failures -> Runyard errors that name the secret and the fix (never a value)."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

    try:
        yield
    except EndpointConnectionError:
        raise ServerUnavailable(f"AWS Secrets Manager is unreachable for secret {name!r}.",
                                hint="Check AWS_ENDPOINT_URL / the region and the network.") from None
    except NoCredentialsError:
        raise SecretStoreError("The aws secret store has no AWS credentials.",
                               hint="Give the workspace server an AWS role or AWS_* credentials.") from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise SecretStoreError(f"AWS Secrets Manager answered {code} for secret {name!r}.",
                               hint="Check the server's AWS permissions (secretsmanager:*) on the names "
                               "starting with RUNYARD_SECRETS_AWS_PREFIX.") from None
    except BotoCoreError as exc:
        raise SecretStoreError(f"AWS Secrets Manager failed for secret {name!r} ({type(exc).__name__}).",
                               hint="Check the AWS configuration.") from None
