"""A small async client for the Confluent Schema Registry REST API (ours or Confluent's).

Only what producers and consumers need on their hot path: register / look up a subject's schema and
fetch a schema by id. Both answers are cached for the life of the client: ids are immutable.

The registry wants HTTP basic authentication (``user:password``, Confluent's ``basic.auth.user.info``):
given as ``user_info``, else from the settings (``CORRIDOR_SCHEMA_REGISTRY_USER_INFO[_FILE]``, else the
local stack's operator credential; ``corridor.core.settings.registry_user_info``).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

_CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryError(RuntimeError):
    """The registry refused a request; carries Confluent's ``error_code``."""

    def __init__(self, status: int, error_code: int | None, message: str) -> None:
        super().__init__(f"schema registry: {message} (HTTP {status}, error_code {error_code})")
        self.status = status
        self.error_code = error_code


def basic_auth(user_info: str | None) -> httpx.BasicAuth | None:
    """httpx auth for a ``user:password`` credential (None: anonymous, which the registry refuses)."""
    if not user_info:
        return None
    user, sep, password = user_info.partition(":")
    if not sep:
        raise ValueError("a registry credential is 'user:password' (basic.auth.user.info)")
    return httpx.BasicAuth(user, password)


def default_auth() -> httpx.BasicAuth | None:
    """The process's registry login: the settings (with the local stack's operator file as fallback)
    on a server; in the partner SDK's wheel, which ships no settings, the two environment variables."""
    try:
        from corridor.core.settings import registry_user_info
    except ImportError:  # corridor-sdk: only CORRIDOR_SCHEMA_REGISTRY_USER_INFO[_FILE]
        value = os.environ.get("CORRIDOR_SCHEMA_REGISTRY_USER_INFO")
        file = os.environ.get("CORRIDOR_SCHEMA_REGISTRY_USER_INFO_FILE")
        if not value and file:
            value = Path(file).read_text(encoding="utf-8").strip()
        return basic_auth(value)
    return basic_auth(registry_user_info())


class RegistryClient:
    def __init__(self, url: str, *, timeout: float = 10.0, user_info: str | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.url,
            timeout=timeout,
            headers={"Content-Type": _CONTENT_TYPE, "Accept": _CONTENT_TYPE},
            auth=basic_auth(user_info) if user_info is not None else default_auth(),
        )
        self._ids_by_subject_schema: dict[tuple[str, str], int] = {}
        self._schemas_by_id: dict[int, str] = {}
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, method: str, path: str, json: Any = None) -> Any:
        response = await self._http.request(method, path, json=json)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"message": response.text}
            raise RegistryError(response.status_code, body.get("error_code"), body.get("message", ""))
        return response.json()

    async def register(self, subject: str, schema_str: str) -> int:
        """Register (or find) ``schema_str`` under ``subject``; returns its global schema id."""
        key = (subject, schema_str)
        if key in self._ids_by_subject_schema:
            return self._ids_by_subject_schema[key]
        async with self._lock:
            if key not in self._ids_by_subject_schema:
                body = await self._call(
                    "POST", f"/subjects/{quote(subject, safe='')}/versions", {"schema": schema_str}
                )
                self._ids_by_subject_schema[key] = int(body["id"])
                self._schemas_by_id[int(body["id"])] = schema_str
        return self._ids_by_subject_schema[key]

    async def lookup(self, subject: str, schema_str: str) -> int:
        """Id of ``schema_str`` if already registered under ``subject`` (no registration)."""
        key = (subject, schema_str)
        if key not in self._ids_by_subject_schema:
            body = await self._call("POST", f"/subjects/{quote(subject, safe='')}", {"schema": schema_str})
            self._ids_by_subject_schema[key] = int(body["id"])
        return self._ids_by_subject_schema[key]

    async def schema_by_id(self, schema_id: int) -> str:
        if schema_id not in self._schemas_by_id:
            body = await self._call("GET", f"/schemas/ids/{schema_id}")
            self._schemas_by_id[schema_id] = body["schema"]
        return self._schemas_by_id[schema_id]

    async def subjects(self) -> list[str]:
        return list(await self._call("GET", "/subjects"))
