"""A grpcio client (C core, as Flame's Rust executor manager is a native HTTP/2 client) refused from its
announced input length: the answer (code 3) comes while the client still has most of its request unsent,
and the call completes instead of hanging (issue 11.11)."""
import os
import subprocess
import tempfile
import uuid

import cloudpickle
import grpc
from flamepy.proto import shim_pb2, shim_pb2_grpc, types_pb2
from flamepy.runner.types import RunnerRequest

from conftest import CLI, _wait, fixture_url

MiB = 1024 * 1024


def test_a_task_past_the_queue_bound_is_refused_before_its_body_is_read():
    tmp = tempfile.mkdtemp(prefix="flmrun-py-queue-")
    sock = os.path.join(tmp, "instance.sock")
    env = {**os.environ, "FLAME_LOG": "warn"}
    env.pop("FLAME_INSTANCE_ENDPOINT", None)
    env.pop("FLAME_CACHE_ENDPOINT", None)  # the embedded cache
    serve = subprocess.Popen(
        ["node", str(CLI), "serve", "--socket", sock, "--work-dir", tmp, "--max-queued-bytes", str(2 * MiB)], env=env
    )
    channel = None
    try:
        _wait(lambda: os.path.exists(sock), "the instance socket")
        channel = grpc.insecure_channel(
            f"unix://{sock}", options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
        )
        stub = shim_pb2_grpc.InstanceStub(channel)
        sid = f"q-{uuid.uuid4().hex[:8]}"
        res = stub.OnSessionEnter(
            shim_pb2.SessionContext(session_id=sid, application=shim_pb2.ApplicationContext(name="queue", url=fixture_url("jsqueue"))),
            timeout=60,
        )
        assert res.return_code == 0, res.message

        def task(tid, method, *args):
            req = cloudpickle.dumps(RunnerRequest(method=method, args=args, kwargs=None))
            return stub.OnTaskInvoke.future(shim_pb2.TaskContext(task_id=tid, session_id=sid, input=req), timeout=120)

        mark, release = os.path.join(tmp, "mark"), os.path.join(tmp, "release")
        blocker = task("blocker", "marksThenWaits", mark, release)
        _wait(lambda: os.path.exists(mark), "the blocking task to start", timeout=60)
        queued = task("queued", "size", b"\x01" * MiB)  # fits next to the running task: read and queued
        # Past the bound next to what is held (whether or not "queued" was read yet): refused from its prefix.
        refused = task("refused", "size", b"\x02" * (8 * MiB)).result()
        assert refused.return_code == 3
        assert refused.message.startswith("refused before its input was read: the instance already holds"), refused.message
        with open(release, "w"):
            pass
        assert blocker.result().return_code == 0
        done = queued.result()
        assert done.return_code == 0, done.message
        stub.OnSessionLeave(types_pb2.EmptyRequest(), timeout=60)
    finally:
        if channel is not None:
            channel.close()
        serve.terminate()
        try:
            serve.wait(timeout=10)
        except subprocess.TimeoutExpired:
            serve.kill()
