"""Hold a service's real answers to its own OpenAPI document: the JSON body of an answer must validate
against the schema the document declares for that operation and status (JSON Schema 2020-12, the
dialect of OpenAPI 3.1)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator


def answer_errors(spec: dict[str, Any], method: str, path: str, status: int, body: Any) -> list[str]:
    """Why ``body`` does not match what ``spec`` declares for ``method path`` → ``status`` (empty if it
    does)."""
    operation = spec["paths"][path][method.lower()]
    answer = operation["responses"].get(str(status))
    if answer is None:
        return [f"{method.upper()} {path}: status {status} is not declared"]
    content = answer.get("content") or {}
    # a problem+json answer is checked against its declared problem schema
    media = next((m for m in content if "json" in m), None)
    if media is None:
        return [f"{method.upper()} {path} {status}: no JSON content is declared"]
    schema = {**content[media]["schema"], "components": spec.get("components", {})}
    validator = Draft202012Validator(schema)
    return [
        f"{method.upper()} {path} {status}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(body)
    ]
