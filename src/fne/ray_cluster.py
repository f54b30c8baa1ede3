"""An existing Ray cluster, checked before it is used: its token, its address, its versions.

``fne search --backend ray --ray-address HOST:PORT`` (and ``fne score``) call
:func:`check_ray_cluster` before anything is written: it finds the cluster's token where Ray's
own command line keeps it (``RAY_AUTH_TOKEN``, the file ``RAY_AUTH_TOKEN_PATH`` names,
``~/.ray/auth_token``), has this process's Ray send it, and asks the cluster within seconds, in a
child process that keeps Ray's retries and log lines out of this one. A cluster that cannot be
used from here is one ``ValueError`` line naming the address and what to set or check.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

RAY_MISSING = "the ray backend needs ray: pip install 'fne[ray]'"

__all__ = [
    "RAY_MISSING",
    "check_ray_cluster",
    "ray_token_source",
    "refresh_ray_auth",
    "ray_version_problem",
    "first_line",
]

RAY_CHECK_SECONDS = 8.0
"""How long :func:`check_ray_cluster` waits for a cluster's answer (on top of at most
:data:`RAY_REACH_SECONDS` to reach its address)."""
RAY_REACH_SECONDS = 2.0
RAY_TOKEN_HELP = (
    "put the head's token (`ray get-auth-token` prints it there) in RAY_AUTH_TOKEN, "
    "in a file named by RAY_AUTH_TOKEN_PATH, or in ~/.ray/auth_token"
)
_RAY_ANSWER_MARK = "fne-ray-cluster-answer: "
_checked_ray_clusters: set[str] = set()


def ray_token_source() -> str | None:
    """Where Ray finds this machine's cluster token, in Ray's order, or None when there is none.

    ``RAY_AUTH_TOKEN``, then the file ``RAY_AUTH_TOKEN_PATH`` names, then ``~/.ray/auth_token``
    (where ``ray get-auth-token --generate`` writes it). The token itself is never read here.

    Raises:
        ValueError: ``RAY_AUTH_TOKEN_PATH`` names something that is not a file.
    """
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    named = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if named:
        if not Path(named).expanduser().is_file():
            raise ValueError(
                f"RAY_AUTH_TOKEN_PATH names {named}, which is not a file: name the token's file or unset it"
            )
        return f"RAY_AUTH_TOKEN_PATH ({named})"
    default = Path.home() / ".ray" / "auth_token"
    return str(default) if default.is_file() else None


def _use_ray_token(source: str | None) -> None:
    """Have this process's Ray send the token when one is found and ``RAY_AUTH_MODE`` is not set.

    Ray sends a token only in ``RAY_AUTH_MODE=token``, and sets that mode by itself only for a
    local cluster, not for an address. A cluster without authentication ignores the token.
    """
    if source is None or os.environ.get("RAY_AUTH_MODE"):
        return
    os.environ["RAY_AUTH_MODE"] = "token"
    refresh_ray_auth()


def refresh_ray_auth() -> None:
    """Make an imported Ray read ``RAY_AUTH_MODE`` and the token again (it caches both)."""
    raylet = sys.modules.get("ray._raylet")
    if raylet is None:  # not imported yet: Ray reads them when it is
        return
    config, loader = getattr(raylet, "Config", None), getattr(raylet, "AuthenticationTokenLoader", None)
    if config is not None:
        config.initialize("")
    if loader is not None:
        loader.instance().reset_cache()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of a ``HOST:PORT`` address; None for the addresses Ray resolves itself
    (``auto``, ``local``, ``ray://...``).

    Raises:
        ValueError: anything else that is not ``HOST:PORT``.
    """
    if address in ("auto", "local") or "://" in address:
        return None
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"--ray-address {address}: give the head's HOST:PORT (PORT: its `ray start --head --port`, 6379 by default)"
        )
    return host, int(port)


def _python_versions_differ(cluster: str, here: str) -> bool:
    """Whether Ray refuses these Python versions (``RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL``:
    ``patch``, Ray's default, or ``minor``)."""
    parts = 2 if os.environ.get("RAY_DEFAULT_PYTHON_VERSION_MATCH_LEVEL", "patch") == "minor" else 3
    return cluster.split(".")[:parts] != here.split(".")[:parts]


def ray_version_problem(cluster: dict[str, Any], address: str) -> str | None:
    """The one-line error for a cluster whose Ray or Python version this machine's Ray refuses, or None.

    Args:
        cluster: the cluster's metadata as its head stores it (``ray_version``, ``python_version``).
        address: the cluster's address, for the message.
    """
    ray_there, python_there = cluster.get("ray_version"), cluster.get("python_version")
    if not ray_there or not python_there:
        return None
    ray_here, python_here = metadata.version("ray"), ".".join(map(str, sys.version_info[:3]))
    if ray_there == ray_here and not _python_versions_differ(python_there, python_here):
        return None
    return (
        f"--ray-address {address}: the cluster runs Ray {ray_there} on Python {python_there}, this machine "
        f"Ray {ray_here} on Python {python_here}; run fne with the cluster's versions (pip install 'ray=={ray_there}')"
    )


def _ask_ray_cluster(address: str) -> dict[str, Any]:
    """What the Ray cluster at ``address`` answers this machine (run in a child process, which
    keeps Ray's retries and log lines out of this one)."""
    from ray._private.services import find_node_ids
    from ray._raylet import GcsClient  # type: ignore[attr-defined]  # ray's stub file leaves it out

    try:
        client = GcsClient(address=address)
        cluster = client.internal_kv_get(b"CLUSTER_METADATA", b"cluster", timeout=5)
        nodes = client.get_all_node_info(timeout=5)
    except Exception as exc:  # every refusal: classified for the message, never raised
        refused = type(exc).__name__ == "AuthenticationError" or "Unauthenticated" in str(exc)
        return {"refused" if refused else "error": first_line(exc)}
    alive = {node_id.hex(): info for node_id, info in nodes.items() if info.state == 0}  # 0: ALIVE
    return {
        "cluster": json.loads(cluster) if cluster else {},
        "nodes": len(alive),
        "cpus": sum(info.resources_total.get("CPU", 0.0) for info in alive.values()),
        "local_node": bool(set(find_node_ids()) & set(alive)),
    }


def _print_ray_cluster_answer(address: str) -> None:
    """The child process's side of :func:`check_ray_cluster`."""
    print(_RAY_ANSWER_MARK + json.dumps(_ask_ray_cluster(address)), flush=True)


def _ray_cluster_answer(address: str) -> dict[str, Any]:
    code = f"import sys; from {__name__} import _print_ray_cluster_answer; _print_ray_cluster_answer(sys.argv[1])"
    try:
        run = subprocess.run(
            [sys.executable, "-c", code, address], capture_output=True, text=True, timeout=RAY_CHECK_SECONDS
        )
    except subprocess.TimeoutExpired:
        raise ValueError(
            f"--ray-address {address}: no Ray cluster answered within {RAY_CHECK_SECONDS:.0f} s; check that it is "
            "the head's address and port (`ray start --head --port`, 6379 by default)"
        ) from None
    for line in run.stdout.splitlines():
        if line.startswith(_RAY_ANSWER_MARK):
            logger.debug("Ray's log while asking %s: %s", address, run.stderr.strip())
            return json.loads(line[len(_RAY_ANSWER_MARK) :])
    said = [line.strip() for line in run.stderr.splitlines() if line.strip()]
    raise ValueError(f"--ray-address {address}: Ray cannot connect ({said[-1] if said else 'no answer'})")


def _refusal(address: str, source: str | None) -> str:
    """The one-line error for a cluster that refused this machine's token (or its lack of one)."""
    mode = os.environ.get("RAY_AUTH_MODE", "")
    if mode and mode.lower() != "token":
        return (
            f"--ray-address {address}: the cluster requires a token but RAY_AUTH_MODE={mode} is set here; "
            "unset it or set RAY_AUTH_MODE=token"
        )
    if source is None:
        return f"--ray-address {address}: the cluster requires a token and none was found; {RAY_TOKEN_HELP}"
    return f"--ray-address {address}: the cluster refused the token from {source}; {RAY_TOKEN_HELP}"


def check_ray_cluster(address: str) -> None:
    """Check, within about ten seconds, that this process can run Ray tasks on the cluster at ``address``.

    Finds the cluster's token where Ray's command line keeps it (:func:`ray_token_source`) and,
    when ``RAY_AUTH_MODE`` is not set, has Ray send it (``RAY_AUTH_MODE=token`` for this process).
    Then asks the head, in a child process, whether it accepts this machine: reachable, the
    token accepted, the same Ray and Python versions, and a Ray node of that cluster on this
    machine (Ray's drivers connect through one). Nothing is checked when this process is
    already connected to Ray, or for an address that Ray resolves itself (``auto``, ``local``,
    ``ray://...``); an address that passed is not asked again.

    Args:
        address: the head's ``HOST:PORT`` (its ``ray start --head --port``).

    Raises:
        ValueError: one line naming the address and what to set or check, when the cluster
            cannot be used from here, or when ray is not installed.
    """
    if address in _checked_ray_clusters:
        return
    if importlib.util.find_spec("ray") is None:
        raise ValueError(RAY_MISSING)
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        return
    host_port = _host_port(address)
    source = ray_token_source()
    if source is None and os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
        raise ValueError(
            f"--ray-address {address}: RAY_AUTH_MODE=token is set but no token was found; {RAY_TOKEN_HELP}"
        )
    _use_ray_token(source)
    if host_port is None:
        return
    try:
        socket.create_connection(host_port, timeout=RAY_REACH_SECONDS).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ValueError(
            f"--ray-address {address}: cannot reach it ({reason.lower()}); check the head's host and port "
            "(`ray start --head --port`, 6379 by default) and that this machine may connect to it"
        ) from None
    answer = _ray_cluster_answer(address)
    if "refused" in answer:
        raise ValueError(_refusal(address, source))
    if "error" in answer:
        raise ValueError(
            f"--ray-address {address}: Ray cannot connect ({answer['error']}); check that it is the head's address "
            "and port (`ray start --head --port`, 6379 by default)"
        )
    problem = ray_version_problem(answer["cluster"], address)
    if problem:
        raise ValueError(problem)
    if not answer["local_node"]:
        raise ValueError(
            f"--ray-address {address}: this machine runs no Ray node of that cluster, which a Ray driver needs; "
            f"run fne on the head, or join this machine first with `ray start --address {address}`"
        )
    logger.info(
        "Ray cluster at %s: %d node(s), %d CPUs%s",
        address,
        answer["nodes"],
        answer["cpus"],
        f", token from {source}" if source and os.environ.get("RAY_AUTH_MODE", "").lower() == "token" else "",
    )
    _checked_ray_clusters.add(address)
