"""Schema evolution gate: is the working tree's ``schemas/`` compatible with what was released?

``corridor schemas check`` compares each event type's schema with **every earlier version of it in git
history** (and, optionally, with the versions in a live registry) under the subject's compatibility
level — BACKWARD_TRANSITIVE for trade subjects (docs/adr/0004-schema-compatibility.md): every new reader
must read every record ever written. Findings name the subject, the field and the rule broken.

``corridor schemas register`` pushes ``schemas/`` to a registry, setting each trade subject's level first.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from urllib.parse import quote

import avro.schema
import httpx

from corridor.core.compatibility import CompatibilityLevel, PreviousVersion, check_compatibility
from corridor.core.schemas import SchemaCatalog, SchemaCatalogError

#: Compatibility level of every trade subject unless the registry says otherwise.
TRADE_SUBJECT_LEVEL = CompatibilityLevel.BACKWARD_TRANSITIVE


@dataclass(frozen=True)
class Finding:
    """One subject that breaks its compatibility level against a baseline."""

    subject: str
    baseline: str
    messages: list[str]

    def __str__(self) -> str:
        return f"{self.subject} (against {self.baseline}):\n" + "\n".join(f"  - {m}" for m in self.messages)


@dataclass
class History:
    """Distinct earlier versions of each event type, oldest first, with where each came from."""

    versions: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # full name → [(label, schema)]
    commits: int = 0

    def add(self, label: str, catalog: SchemaCatalog) -> None:
        for full_name, event in catalog.events.items():
            seen = self.versions.setdefault(full_name, [])
            text = json.dumps(event.schema, sort_keys=True)
            if not seen or seen[-1][1] != text:
                seen.append((label, text))


def _git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=True).stdout


def git_history(repo: Path, schemas_rel: str = "schemas", max_commits: int = 500) -> History:
    """Every committed version of ``schemas/`` (oldest first). A shallow or missing history gives less."""
    history = History()
    try:
        log = _git(repo, "log", "--format=%H", f"-{max_commits}", "--", schemas_rel).decode().split()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return history
    for commit in reversed(log):
        archive = _git(repo, "archive", "--format=tar", commit, schemas_rel)
        with tempfile.TemporaryDirectory() as tmp, tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
            try:
                catalog = SchemaCatalog(Path(tmp) / schemas_rel)
            except (SchemaCatalogError, ValueError, KeyError) as exc:
                # an old commit with a broken tree cannot have been released; skip it but say so
                history.add(f"git {commit[:8]} (unreadable: {exc})", SchemaCatalog.of())
                continue
            history.add(f"git {commit[:8]}", catalog)
        history.commits += 1
    return history


def check_against_history(
    current: SchemaCatalog, history: History, level: CompatibilityLevel = TRADE_SUBJECT_LEVEL
) -> list[Finding]:
    findings: list[Finding] = []
    for full_name, versions in history.versions.items():
        if full_name not in current.events:
            findings.append(
                Finding(
                    subject=full_name,
                    baseline=versions[-1][0],
                    messages=[
                        f"EVENT_TYPE_REMOVED: {full_name} was published before and is gone from schemas/; "
                        "consumers may still receive it (deprecate it, or start a new topic version)"
                    ],
                )
            )
    for full_name, event in sorted(current.events.items()):
        versions = history.versions.get(full_name, [])
        if not versions:
            continue
        previous = [PreviousVersion(i + 1, avro.schema.parse(text)) for i, (_, text) in enumerate(versions)]
        messages = check_compatibility(level, avro.schema.parse(event.schema_str), previous)
        if messages:
            labels = ", ".join(f"version {i + 1} = {label}" for i, (label, _) in enumerate(versions))
            findings.append(
                Finding(subject=event.subject, baseline=f"git history ({labels})", messages=messages)
            )
    return findings


def check_against_registry(
    current: SchemaCatalog, registry_url: str, *, user_info: str | None = None
) -> list[Finding]:
    """Ask a live registry whether each subject would accept the working tree's schema (verbose)."""
    findings: list[Finding] = []
    with httpx.Client(base_url=registry_url.rstrip("/"), timeout=30, auth=_auth(user_info)) as http:
        for event in sorted(current.events.values(), key=lambda e: e.subject):
            response = http.post(
                f"/compatibility/subjects/{quote(event.subject, safe='')}/versions",
                params={"verbose": "true"},
                json={"schema": event.schema_str},
            )
            if response.status_code == 404:  # subject not registered yet: nothing to break
                continue
            response.raise_for_status()
            body = response.json()
            if not body.get("is_compatible", False):
                findings.append(
                    Finding(event.subject, f"registry {registry_url}", list(body.get("messages", [])))
                )
    return findings


@dataclass(frozen=True)
class Registered:
    subject: str
    schema_id: int
    version: int


def _auth(user_info: str | None) -> httpx.BasicAuth | None:
    from corridor.core.registry_client import basic_auth, default_auth

    return basic_auth(user_info) if user_info is not None else default_auth()


def register_all(
    current: SchemaCatalog,
    registry_url: str,
    level: CompatibilityLevel = TRADE_SUBJECT_LEVEL,
    *,
    user_info: str | None = None,
) -> Iterable[Registered]:
    """Set each subject's compatibility level (if unset) and register its schema; yields as it goes.

    Raises ``httpx.HTTPStatusError`` on a refusal; a 409 carries the registry's reason.
    """
    with httpx.Client(base_url=registry_url.rstrip("/"), timeout=30, auth=_auth(user_info)) as http:
        for event in sorted(current.events.values(), key=lambda e: e.subject):
            path = quote(event.subject, safe="")
            config = http.get(f"/config/{path}")
            if config.status_code == 404:
                http.put(f"/config/{path}", json={"compatibility": level.value}).raise_for_status()
            response = http.post(f"/subjects/{path}/versions", json={"schema": event.schema_str})
            if response.status_code >= 400:
                raise httpx.HTTPStatusError(
                    f"{event.subject}: {response.json().get('message', response.text)}",
                    request=response.request,
                    response=response,
                )
            schema_id = int(response.json()["id"])
            found = http.post(f"/subjects/{path}", json={"schema": event.schema_str})
            found.raise_for_status()
            yield Registered(event.subject, schema_id, int(found.json()["version"]))
