"""Starts a real flmrun-js (node dist/cli.js) with its own object cache for the interop suite."""
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "dist" / "cli.js"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(cond, what: str, timeout: float = 20.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def flmrun():
    """Yields (instance_stub, cache_endpoint); the cache endpoint is also set as FLAME_CACHE_ENDPOINT."""
    from flamepy.proto import shim_pb2_grpc

    tmp = tempfile.mkdtemp(prefix="flmrun-py-")
    port = _free_port()
    endpoint = f"grpc://127.0.0.1:{port}"
    env = {**os.environ, "FLAME_LOG": "warn"}
    env.pop("FLAME_INSTANCE_ENDPOINT", None)
    cache = subprocess.Popen(["node", str(CLI), "cache", "--listen", f"127.0.0.1:{port}"], env=env)
    sock = os.path.join(tmp, "instance.sock")
    serve = None
    try:
        _wait(lambda: _port_open(port), "the object cache")
        serve = subprocess.Popen(
            ["node", str(CLI), "serve", "--socket", sock, "--cache", endpoint, "--work-dir", tmp], env=env
        )
        _wait(lambda: os.path.exists(sock), "the instance socket")
        os.environ["FLAME_CACHE_ENDPOINT"] = endpoint
        channel = grpc.insecure_channel(f"unix://{sock}")
        grpc.channel_ready_future(channel).result(timeout=10)
        yield shim_pb2_grpc.InstanceStub(channel), endpoint
        channel.close()
    finally:
        for p in (serve, cache):
            if p is not None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()


def fixture_url(name: str) -> str:
    return (FIXTURES / name).as_uri()
