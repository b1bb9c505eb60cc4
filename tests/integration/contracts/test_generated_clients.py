"""Clients generated from the running services' OpenAPI documents — by openapi-python-client and by
openapi-typescript (+ openapi-fetch, compiled with ``tsc --strict``) — make one authenticated call each
against the stack: publish an event through the gateway, search the ledger; and the registry's client,
logged in with HTTP basic authentication as its document declares (ADR 0023), lists subjects. The answers
come back typed as the documents say; without the key or the login, 401."""

from __future__ import annotations

import base64
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from corridor.core.credentials import REGISTRY_SERVICES, credentials_dir, read_secret
from tests.integration.contracts.contract_helpers import order_placed as _order_placed
from tests.support.contract_tools import ToolMissing, npm_bin, npm_tools
from tests.support.openapi_check import answer_errors

# the first run installs the npm tools (npm ci, a few minutes on a slow machine)
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]


def _spec(url: str, folder: Path, name: str, auth: httpx.Auth | None = None) -> Path:
    path = folder / f"{name}.json"
    answer = httpx.get(f"{url}/openapi.json", timeout=10, auth=auth)
    answer.raise_for_status()
    path.write_text(answer.text, encoding="utf-8")
    return path


def _registry_reader(stack: Any) -> str:
    """A read-role registry login (the stack's services'): the registry answers 401 without one."""
    return read_secret(credentials_dir(stack.state_dir) / REGISTRY_SERVICES)


@pytest.fixture(scope="module")
def python_clients(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """{service: the generated package}, generated from each running service's /openapi.json."""
    generator = shutil.which("openapi-python-client", path=str(Path(sys.executable).parent))
    if generator is None:
        raise ToolMissing("openapi-python-client is not installed (a dev extra of pyproject.toml)")
    folder = tmp_path_factory.mktemp("python-clients")
    urls = {"gateway": stack.gateway_url, "ledger": stack.ledger_url, "registry": stack.schema_registry_url}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    packages = {}
    auth = httpx.BasicAuth(*_registry_reader(stack).split(":", 1))
    for service, url in urls.items():
        package = f"corridor_{service}_client_{uuid.uuid4().hex[:6]}"
        done = subprocess.run(
            [
                generator,
                "generate",
                "--path",
                str(_spec(url, folder, service, auth=auth if service == "registry" else None)),
                "--meta",
                "none",
                "--output-path",
                str(folder / package),
                "--overwrite",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Warning" not in done.stdout + done.stderr, f"{service}: {done.stdout}{done.stderr}"
        packages[service] = package
    sys.path.insert(0, str(folder))
    try:
        yield {service: importlib.import_module(package) for service, package in packages.items()}
    finally:
        sys.path.remove(str(folder))


def _module(package: Any, suffix: str) -> Any:
    """The generated module of an operation (``api/<tag>/<operationId>.py``) by its operation id."""
    root = Path(package.__file__).parent / "api"
    [found] = [p for p in root.rglob("*.py") if p.stem.startswith(suffix)]
    relative = found.relative_to(root.parent).with_suffix("")
    return importlib.import_module(f"{package.__name__}.{'.'.join(relative.parts)}")


def test_python_clients_make_authenticated_calls(
    stack: Any, buyer: tuple[str, str], python_clients: dict[str, Any]
) -> None:
    partner_id, key = buyer
    gateway = python_clients["gateway"]
    client = importlib.import_module(f"{gateway.__name__}.client")
    models = importlib.import_module(f"{gateway.__name__}.models")
    post_event = _module(gateway, "post_event")
    event = _order_placed(partner_id)
    authed = client.AuthenticatedClient(
        base_url=stack.gateway_url, token=key, raise_on_unexpected_status=True
    )
    answer = post_event.sync_detailed(client=authed, body=models.CloudEventStructured.from_dict(event))
    assert answer.status_code == 201, answer.content
    assert isinstance(answer.parsed, models.Accepted)
    assert answer.parsed.event_id == event["id"] and answer.parsed.topic == "trade.orders.v1"

    ledger = python_clients["ledger"]
    ledger_client = importlib.import_module(f"{ledger.__name__}.client")
    ledger_models = importlib.import_module(f"{ledger.__name__}.models")
    search = _module(ledger, "search_trades")
    with ledger_client.AuthenticatedClient(base_url=stack.ledger_url, token=key) as authed_ledger:
        page = search.sync_detailed(client=authed_ledger, limit=5)
    assert page.status_code == 200, page.content
    assert isinstance(page.parsed, ledger_models.TradePage)
    assert all(isinstance(item, ledger_models.TradeSummary) for item in page.parsed.items)
    with ledger_client.Client(base_url=stack.ledger_url) as anonymous:
        refused = search.sync_detailed(client=anonymous, limit=5)
    assert refused.status_code == 401
    assert isinstance(refused.parsed, ledger_models.ProblemDetails)

    # the trade the generated client published, once the ledger stored it: typed by the generated
    # model, and valid against the ledger's document
    get_trade = _module(ledger, "get_trade")
    trade_id = event["data"]["trade_id"]
    deadline = time.monotonic() + 60
    with ledger_client.AuthenticatedClient(base_url=stack.ledger_url, token=key) as authed_ledger:
        while (trade := get_trade.sync_detailed(trade_id, client=authed_ledger)).status_code == 404:
            assert time.monotonic() < deadline, "the ledger did not store the trade"
            time.sleep(0.5)
    assert trade.status_code == 200, trade.content
    assert isinstance(trade.parsed, ledger_models.TradeView)
    assert trade.parsed.order.order_id == event["data"]["order_id"]
    spec = httpx.get(f"{stack.ledger_url}/openapi.json").json()
    body = json.loads(trade.content)
    assert answer_errors(spec, "get", "/v1/trades/{trade_id}", 200, body) == []

    registry = python_clients["registry"]
    registry_client = importlib.import_module(f"{registry.__name__}.client")
    list_subjects = _module(registry, "list_subjects")
    with registry_client.Client(base_url=stack.schema_registry_url) as anonymous:
        assert list_subjects.sync_detailed(client=anonymous).status_code == 401
    # a read-role login (the stack's services'), sent as the document's basicAuth scheme says
    user_info = _registry_reader(stack)
    login = base64.b64encode(user_info.encode()).decode()
    with registry_client.AuthenticatedClient(
        base_url=stack.schema_registry_url, token=login, prefix="Basic"
    ) as reader:
        subjects = list_subjects.sync_detailed(client=reader)
    assert subjects.status_code == 200 and isinstance(subjects.parsed, list)
    assert "trade.orders.v1-corridor.trade.orders.OrderPlaced" in subjects.parsed


def test_typescript_clients_make_authenticated_calls(
    stack: Any, buyer: tuple[str, str], tmp_path: Path
) -> None:
    partner_id, key = buyer
    tools = npm_tools()
    work = tools / "generated" / uuid.uuid4().hex[:12]  # inside the tools folder: node finds node_modules
    work.mkdir(parents=True)
    try:
        for service, url in (("gateway", stack.gateway_url), ("ledger", stack.ledger_url)):
            spec = _spec(url, tmp_path, service)
            done = subprocess.run(
                [str(npm_bin("openapi-typescript")), str(spec), "-o", str(work / f"{service}-api.ts")],
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stdout + done.stderr
        shutil.copyfile(tools / "generated-client-call.mts", work / "client.mts")
        compiled = subprocess.run(
            [
                str(npm_bin("tsc")),
                "--strict",
                "--module",
                "nodenext",
                "--moduleResolution",
                "nodenext",
                "--target",
                "es2022",
                "--skipLibCheck",
                "client.mts",
            ],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert compiled.returncode == 0, compiled.stdout + compiled.stderr
        env = {
            **os.environ,
            "GATEWAY_URL": stack.gateway_url,
            "LEDGER_URL": stack.ledger_url,
            "API_KEY": key,
            "EVENT": json.dumps(_order_placed(partner_id)),
        }
        node = shutil.which("node")
        if node is None:
            raise ToolMissing("node is not on PATH")
        ran = subprocess.run(
            [node, "client.mjs"], cwd=work, capture_output=True, text=True, env=env, timeout=120
        )
        assert ran.returncode == 0, ran.stderr
        result = json.loads(ran.stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert result["gateway"]["status"] == 201, result
    assert result["gateway"]["data"]["topic"] == "trade.orders.v1"
    assert result["ledger"]["status"] == 200 and isinstance(result["ledger"]["items"], int)
    assert result["unauthenticated"] == 401
