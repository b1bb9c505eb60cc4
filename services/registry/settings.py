"""Registry settings from the environment (prefix ``CORRIDOR_``, like the rest of Corridor).

``CORRIDOR_DATABASE_URL`` is shared with every service; the ``CORRIDOR_REGISTRY_*`` variables only
tune this one.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from corridor.core.credentials import REGISTRY_USERS, credentials_dir
from corridor.core.settings import PROJECT_ROOT

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8081


class RegistrySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CORRIDOR_", extra="ignore")

    database_url: str | None = None
    log_level: str = "INFO"
    log_format: str = "json"  # "console" for people
    registry_db_schema: str = Field(default="registry", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    registry_pool_min_size: int = Field(default=1, ge=1)
    registry_pool_max_size: int = Field(default=10, ge=1)
    #: The users file (names, roles, password hashes); unset: the local stack's
    #: ``<state dir>/credentials/registry-users.json``. Required: the registry has no anonymous access.
    registry_users_file: Path | None = None
    state_dir: Path = Field(default=PROJECT_ROOT / ".corridor")
    #: Largest request body (a schema with its JSON envelope); larger ones are refused with 413.
    registry_max_request_bytes: int = Field(default=1024 * 1024, ge=1024)

    def effective_users_file(self) -> Path:
        return self.registry_users_file or credentials_dir(self.state_dir) / REGISTRY_USERS
