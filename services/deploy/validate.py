"""Offline validation of the cluster manifests and the compose file; the tools it needs, built once.

* ``kustomize`` and ``kubeconform`` are built from the Go module proxy with ``go install`` at pinned
  versions into ``.tools/bin`` (gitignored), once per machine; nothing is downloaded at validation time.
* Kubernetes' own JSON schemas come from the PyPI package ``kubernetes-validate`` (a dev dependency):
  its schemas reference a shared ``_definitions.json`` by an absolute URL, which kubeconform would
  fetch, so :func:`kubernetes_schema_dir` rewrites the kinds we use into standalone schemas (their
  definitions inlined) under ``.tools/k8s-schemas``.
* Custom resources (Strimzi's ``kafka.strimzi.io``, CloudNativePG's ``postgresql.cnpg.io``) are checked
  by ``deploy/k8s/crd-check/check.mjs`` with the validators the npm packages
  ``@kubernetes-models/strimzi-kafka-operator`` and ``@kubernetes-models/cloudnative-pg`` generate from
  the operators' CRDs. Those packages ship compiled validators, not JSON schema files, so kubeconform
  cannot read them; kubeconform checks the Kubernetes kinds and skips exactly the custom kinds the
  npm check covers (an unknown custom kind is an error in both). ``npm ci`` installs the pinned
  lockfile into ``.tools/crd-check`` (gitignored) when the lockfile changed.
* ``deploy/compose.yaml`` is loaded by ``deploy/tools/composecheck``, a few lines of Go over compose-go
  (the loader of Docker Compose v2: the Compose Specification's schema, interpolation, merge keys,
  references between services), built with ``go build`` into ``.tools/bin`` — ``docker compose config``
  without Docker.
* ``promtool`` (Prometheus rules) is unpacked from Debian's ``prometheus`` package into ``.tools/bin``.

A missing tool raises :class:`ToolError` saying how to get it: a test must fail, not skip.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corridor.core.settings import PROJECT_ROOT

__all__ = [
    "KUBERNETES_VERSION",
    "OVERLAYS",
    "TOOLS",
    "ManifestCheck",
    "ToolError",
    "check_custom_resources",
    "check_manifests",
    "compose_config",
    "ensure_composecheck",
    "ensure_crd_check",
    "ensure_promtool",
    "ensure_tool",
    "kubeconform",
    "kubernetes_schema_dir",
    "kustomize_build",
]

TOOLS_DIR = PROJECT_ROOT / ".tools"
#: name -> Go package@version that ``go install`` builds (pinned: a rebuild gives the same tool).
TOOLS = {
    "kubeconform": "github.com/yannh/kubeconform/cmd/kubeconform@v0.7.0",
    "kustomize": "sigs.k8s.io/kustomize/kustomize/v5@v5.8.1",
}
#: The Kubernetes version the manifests are validated against (schemas of kubernetes-validate).
KUBERNETES_VERSION = "1.33.0"
K8S_DIR = PROJECT_ROOT / "deploy" / "k8s"
OVERLAYS = ("local", "production")
CRD_CHECK = K8S_DIR / "crd-check"
#: API groups whose resources check.mjs validates (the operators' CRDs); kubeconform skips them.
CUSTOM_GROUPS = ("kafka.strimzi.io", "postgresql.cnpg.io")


class ToolError(RuntimeError):
    """A validation tool is missing or could not be built (the message says how to get it)."""


def ensure_tool(name: str) -> Path:
    """The path of a pinned tool, built with ``go install`` into .tools/bin on first use."""
    package = TOOLS[name]
    version = package.rpartition("@")[2]
    binary = TOOLS_DIR / "bin" / name
    stamp = TOOLS_DIR / "bin" / f".{name}.version"
    if binary.exists() and stamp.exists() and stamp.read_text().strip() == version:
        return binary
    go = shutil.which("go")
    if go is None:
        raise ToolError(f"{name}: the Go toolchain is needed to build it (`go install {package}`)")
    env = {**os.environ, "GOBIN": str(binary.parent), "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    binary.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([go, "install", package], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not binary.exists():
        raise ToolError(f"{name}: `go install {package}` failed:\n{done.stderr[-2000:]}")
    stamp.write_text(version + "\n")
    return binary


def ensure_promtool() -> Path:
    """promtool, unpacked from Debian's ``prometheus`` package into .tools/bin (not installed: installing
    would start a Prometheus server). Needs apt's package lists; as root it refreshes them when the
    download fails."""
    binary = TOOLS_DIR / "bin" / "promtool"
    if binary.exists():
        return binary
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise ToolError("promtool: needs apt-get and dpkg-deb (Debian's prometheus package) to unpack it")
    work = TOOLS_DIR / "download"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    fetch = ["apt-get", "download", "-q", "prometheus"]
    done = subprocess.run(fetch, cwd=work, capture_output=True, text=True, check=False)
    if done.returncode != 0 and os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False)
        done = subprocess.run(fetch, cwd=work, capture_output=True, text=True, check=False)
    packages = sorted(work.glob("prometheus_*.deb"))
    if done.returncode != 0 or not packages:
        raise ToolError(f"promtool: `apt-get download prometheus` failed:\n{done.stderr[-2000:]}")
    subprocess.run(["dpkg-deb", "-x", str(packages[0]), str(work / "root")], check=True)
    binary.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(work / "root" / "usr" / "bin" / "promtool", binary)
    shutil.rmtree(work, ignore_errors=True)
    return binary


COMPOSECHECK = PROJECT_ROOT / "deploy" / "tools" / "composecheck"


def ensure_composecheck() -> Path:
    """deploy/tools/composecheck (compose-go, Docker Compose v2's loader) built into .tools/bin."""
    sources = [*sorted(COMPOSECHECK.glob("*.go")), COMPOSECHECK / "go.mod", COMPOSECHECK / "go.sum"]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()
    binary = TOOLS_DIR / "bin" / "composecheck"
    stamp = TOOLS_DIR / "bin" / ".composecheck.sha256"
    if binary.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return binary
    go = shutil.which("go")
    if go is None:
        raise ToolError("composecheck: the Go toolchain is needed to build deploy/tools/composecheck")
    env = {**os.environ, "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    binary.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=COMPOSECHECK,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ToolError(f"composecheck: `go build` failed:\n{done.stderr[-2000:]}")
    stamp.write_text(digest + "\n")
    return binary


def compose_config(path: Path) -> subprocess.CompletedProcess[str]:
    """Load a compose file like `docker compose config` (no daemon): the model as JSON, or the reason."""
    return subprocess.run(
        [str(ensure_composecheck()), str(path)], capture_output=True, text=True, check=False
    )


def kustomize_build(overlay: str) -> str:
    """The rendered manifests of ``deploy/k8s/overlays/<overlay>``."""
    done = subprocess.run(
        [str(ensure_tool("kustomize")), "build", str(K8S_DIR / "overlays" / overlay)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise ToolError(f"kustomize build {overlay} failed:\n{done.stderr[-2000:]}")
    return done.stdout


_DEF_REF = re.compile(r"^(?:/api/_definitions\.json)?#/\$defs/(.+)$")


def _source_schema_dir() -> Path:
    try:
        import kubernetes_validate  # type: ignore[import-untyped]
    except ImportError:
        raise ToolError("the PyPI package kubernetes-validate is missing (pip install -e '.[dev]')") from None
    folder = (
        Path(kubernetes_validate.__file__).parent
        / "kubernetes-json-schema"
        / f"v{KUBERNETES_VERSION}-local-strict"
    )
    if not folder.is_dir():
        raise ToolError(f"kubernetes-validate has no schemas for Kubernetes {KUBERNETES_VERSION} ({folder})")
    return folder


def _standalone(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with every ``/api/_definitions.json#/$defs/X`` reference (and those between the
    definitions, ``#/$defs/X``) pointing at an inlined copy."""
    needed: set[str] = set()

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                match = _DEF_REF.match(value) if key == "$ref" and isinstance(value, str) else None
                if match:
                    needed.add(match.group(1))
                    out[key] = f"#/$defs/{match.group(1)}"
                else:
                    out[key] = rewrite(value)
            return out
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    result: dict[str, Any] = rewrite({k: v for k, v in schema.items() if k != "$id"})
    defs: dict[str, Any] = {}
    while needed - defs.keys():
        for name in sorted(needed - defs.keys()):
            defs[name] = rewrite(definitions[name])
    result["$defs"] = defs
    return result


def kubernetes_schema_dir(files: Iterable[str]) -> Path:
    """A folder of standalone schemas for the given kubeconform file names (``deployment-apps-v1.json``)."""
    target = TOOLS_DIR / "k8s-schemas" / f"v{KUBERNETES_VERSION}-standalone-strict"
    missing = [f for f in sorted(set(files)) if not (target / f).exists()]
    if missing:
        source = _source_schema_dir()
        definitions = json.loads((source / "_definitions.json").read_text())["$defs"]
        target.mkdir(parents=True, exist_ok=True)
        for name in missing:
            if not (source / name).exists():
                continue  # kubeconform then reports the kind as unknown
            schema = json.loads((source / name).read_text())
            (target / name).write_text(json.dumps(_standalone(schema, definitions)))
    return target


def _schema_file(document: dict[str, Any]) -> str:
    """kubeconform's file name for a built-in kind: <kind>[-<group first label>]-<version>.json."""
    group, _, version = str(document.get("apiVersion", "")).rpartition("/")
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{str(document.get('kind', '')).lower()}{suffix}.json"


def kubeconform(manifests: str, skip: Iterable[str] = ()) -> subprocess.CompletedProcess[str]:
    """Run kubeconform -strict on ``manifests`` against the Kubernetes schemas, offline; the
    ``skip`` kinds (group/version/kind) are left to :func:`check_custom_resources`."""
    documents = [d for d in _load_all(manifests) if d]
    k8s = kubernetes_schema_dir(_schema_file(d) for d in documents if not _is_custom(d))
    skipped = sorted(set(skip))
    return subprocess.run(
        [
            str(ensure_tool("kubeconform")),
            "-strict",
            "-summary",
            "-output", "text",
            "-kubernetes-version", KUBERNETES_VERSION,
            "-schema-location", f"{k8s}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
            *(["-skip", ",".join(skipped)] if skipped else []),
            "-",
        ],
        input=manifests, capture_output=True, text=True, check=False,
    )  # fmt: skip


def _load_all(manifests: str) -> list[Any]:
    import yaml

    return list(yaml.safe_load_all(manifests))


def _is_custom(document: dict[str, Any]) -> bool:
    return str(document.get("apiVersion", "")).partition("/")[0] in CUSTOM_GROUPS


def ensure_crd_check() -> Path:
    """``.tools/crd-check/check.mjs`` beside the npm packages of the lockfile (``npm ci`` when the
    lockfile changed)."""
    target = TOOLS_DIR / "crd-check"
    lock = (CRD_CHECK / "package-lock.json").read_bytes()
    digest = hashlib.sha256((CRD_CHECK / "package.json").read_bytes() + lock).hexdigest()
    stamp = target / ".lock.sha256"
    if shutil.which("node") is None:
        raise ToolError("crd-check: Node.js (`node`) is needed to validate the custom resources")
    if not (stamp.exists() and stamp.read_text().strip() == digest and (target / "node_modules").is_dir()):
        npm = shutil.which("npm")
        if npm is None:
            raise ToolError("crd-check: npm is needed to install deploy/k8s/crd-check (`npm ci`)")
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy2(CRD_CHECK / name, target / name)
        done = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=target, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise ToolError(f"crd-check: `npm ci` in {target} failed:\n{done.stderr[-2000:]}")
        stamp.write_text(digest + "\n")
    script = target / "check.mjs"
    source = (CRD_CHECK / "check.mjs").read_bytes()
    if not script.exists() or script.read_bytes() != source:
        script.write_bytes(source)
    return script


@dataclass(frozen=True)
class ManifestCheck:
    """The outcome of validating a set of documents: how many, and what is wrong with which."""

    resources: int
    problems: list[str] = field(default_factory=list)
    #: Of the documents, how many were custom resources (checked by check.mjs).
    custom: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def check_custom_resources(documents: list[dict[str, Any]]) -> list[str]:
    """Problems of the custom resources among ``documents`` ("Kind name: reason"), by check.mjs."""
    custom = [d for d in documents if _is_custom(d)]
    if not custom:
        return []
    script = ensure_crd_check()
    done = subprocess.run(
        [shutil.which("node") or "node", str(script)],
        input=json.dumps(custom), cwd=script.parent, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise ToolError(f"crd-check: node {script} failed:\n{done.stderr[-2000:]}")
    results = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    if len(results) != len(custom):
        raise ToolError(f"crd-check: {len(results)} results for {len(custom)} resources:\n{done.stdout}")
    return [f"{r.get('kind')} {r.get('name')}: {error}" for r in results for error in r["errors"]]


def check_manifests(manifests: str) -> ManifestCheck:
    """Validate every document of ``manifests``: Kubernetes kinds with kubeconform -strict, custom
    resources with check.mjs (strict too). Nothing is skipped: each document is checked by one."""
    documents = [d for d in _load_all(manifests) if d]
    custom = [d for d in documents if _is_custom(d)]
    skip = {f"{d['apiVersion']}/{d['kind']}" for d in custom}
    done = kubeconform(manifests, skip)
    problems = check_custom_resources(documents)
    summary = re.search(
        r"(\d+) resources? found.*Valid: (\d+), Invalid: (\d+), Errors: (\d+), Skipped: (\d+)", done.stdout
    )
    if summary is None:
        raise ToolError(f"kubeconform gave no summary:\n{done.stdout}{done.stderr}")
    found, valid, _, _, skipped = (int(g) for g in summary.groups())
    if done.returncode != 0 or found != len(documents) or skipped != len(custom) or valid != found - skipped:
        problems.insert(0, f"kubeconform: {done.stdout.strip()}{done.stderr.strip()}")
    return ManifestCheck(resources=len(documents), problems=problems, custom=len(custom))
