"""Python side of the benchmarks, run in the bench venv (flamepy 0.6.0 from PyPI).

  helper.py context APP SESSION        put the session's RunnerContext into the cache exactly as
                                       flamepy.runner.Runner does; print common_data (hex)
  helper.py requests JSON              JSON = [[method, args, [ref_hex, ...]], ...]; print a JSON list of
                                       cloudpickle.dumps(RunnerRequest(...)) (hex), as the SDK sends; each
                                       ref_hex (a BSON ObjectRef) is appended as an ObjectRef argument
  helper.py cache ENDPOINT SIZE N [FILE]
                                       pyarrow.flight put/get timings (seconds per op, JSON: put, get wall;
                                       put_cpu, get_cpu: this process's CPU time, all threads); the object is
                                       SIZE bytes of 7, or the bytes of FILE
  helper.py drive INPUT_HEX            a small-task driver on grpcio (whose C core behaves like Flame's Rust
                                       client, unlike grpc-js): reads lines "SOCKET SESSION N" from stdin, runs
                                       N OnTaskInvoke calls with INPUT on that runner, answers one JSON line of
                                       round-trip milliseconds per request line
  helper.py cluster SPEC_JSON          small tasks through a live Flame cluster (FLAME_ENDPOINT: its session
                                       manager; FLAME_CACHE_ENDPOINT: its object cache), as a flamepy client
                                       sees them: see cluster()

The cache endpoint comes from FLAME_CACHE_ENDPOINT, as for the runner.
"""
import json
import sys
import time

import cloudpickle


class Bench:
    """The execution object of the Python contender: the same three methods as bench/fixture.ts's package."""

    def add(self, a, b):
        return a + b

    def blob(self, n):
        return b"\x01" * n  # filled, as the JavaScript side

    def total(self, *bufs):
        return sum(len(b) for b in bufs)


def context(app, session):
    from flamepy.core import put_object
    from flamepy.runner.types import RunnerContext

    # What Runner.__init__ does (flamepy/runner/runner.py): pickle the context, put it under
    # "<app>/<session>", pass the encoded ObjectRef as the session's common_data. Bench is defined
    # in __main__, so cloudpickle ships it by value and the runner needs no package for it.
    ctx = RunnerContext(execution_object=Bench)
    ref = put_object(f"{app}/{session}", cloudpickle.dumps(ctx, protocol=cloudpickle.DEFAULT_PROTOCOL))
    print(ref.encode().hex())


def requests(specs_json):
    import bson
    from flamepy.core import ObjectRef
    from flamepy.runner.types import RunnerRequest

    out = []
    for method, args, ref_hex in json.loads(specs_json):
        args = list(args)
        for h in ref_hex:
            d = bson.decode(bytes.fromhex(h))
            # version 0: both runners fetch fresh every time (flamepy would otherwise answer from its
            # client-side copy after a "not modified" round trip, which is not what we measure).
            args.append(ObjectRef(endpoint=d["endpoint"], key=d["key"], version=0))
        req = RunnerRequest(method=method, args=tuple(args))
        out.append(cloudpickle.dumps(req, protocol=cloudpickle.DEFAULT_PROTOCOL).hex())
    print(json.dumps(out))


def cache(endpoint, size, n, file=None):
    import bson
    import pyarrow as pa
    import pyarrow.flight as fl

    size, n = int(size), int(n)
    c = fl.FlightClient(endpoint, generic_options=[("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)])
    schema = pa.schema([pa.field("version", pa.uint64()), pa.field("data", pa.binary())])
    # One row, as flamepy's put_object sends a value.
    if file:
        with open(file, "rb") as f:
            payload = f.read()
    else:
        payload = b"\x07" * size
    batch = pa.record_batch([pa.array([0], pa.uint64()), pa.array([payload], pa.binary())], schema=schema)

    def put():
        w, r = c.do_put(fl.FlightDescriptor.for_path("bench/pyarrow"), schema)
        w.write_batch(batch)
        w.done_writing()
        ref = bson.decode(bytes(r.read()))
        w.close()
        return ref

    def get(ref):
        return c.do_get(fl.Ticket((ref["key"] + ":0").encode())).read_all()

    get(put())  # warm-up: channel and first allocations
    puts, gets, put_cpu, get_cpu = [], [], [], []
    for _ in range(n):
        c0, t = time.process_time(), time.perf_counter()
        ref = put()
        puts.append(time.perf_counter() - t)
        put_cpu.append(time.process_time() - c0)
        c0, t = time.process_time(), time.perf_counter()
        get(ref)
        gets.append(time.perf_counter() - t)
        get_cpu.append(time.process_time() - c0)
    list(c.do_action(fl.Action("DELETE", b"bench/*")))
    print(json.dumps({"put": puts, "get": gets, "put_cpu": put_cpu, "get_cpu": get_cpu}))


def drive(input_hex):
    import grpc
    from flamepy.proto import shim_pb2, shim_pb2_grpc

    task_input = bytes.fromhex(input_hex)
    stubs = {}
    seq = 0
    for line in sys.stdin:
        sock, session, n = line.split()
        if sock not in stubs:
            stubs[sock] = shim_pb2_grpc.InstanceStub(grpc.insecure_channel(f"unix://{sock}"))
        stub = stubs[sock]
        out = []
        for _ in range(int(n)):
            seq += 1
            req = shim_pb2.TaskContext(task_id=f"py-{seq}", session_id=session, input=task_input)
            t = time.perf_counter()
            res = stub.OnTaskInvoke(req)
            out.append((time.perf_counter() - t) * 1000)
            if res.return_code != 0:
                raise SystemExit(f"task failed ({res.return_code}): {res.message}")
        print(json.dumps(out), flush=True)


def cluster(spec_json):
    """Small tasks through a live Flame cluster, as a flamepy client sees them. spec_json: {"apps": [{"label",
    "app", "kind": "js" | "py", "attrs": ApplicationAttributes}], "blocks": B, "n": N}. Registers each app, opens
    one session per app (min and max 1 instance; "py": the RunnerContext put as Runner puts it), runs one untimed
    task (the bind and session enter) whose ObjectRef must resolve to 8, then B blocks of N `invoke(add(5, 3))`
    per session, the sessions taking turns block by block (the order rotated); prints {label: [[ms, ...], ...]}.
    Closes the sessions and unregisters the apps, also on failure."""
    import uuid

    from flamepy import close_session, create_session, register_application, unregister_application
    from flamepy.core import ObjectRef, get_object, put_object
    from flamepy.runner.types import RunnerContext, RunnerRequest

    spec = json.loads(spec_json)
    task_input = cloudpickle.dumps(RunnerRequest(method="add", args=(5, 3)), protocol=cloudpickle.DEFAULT_PROTOCOL)
    sessions = []
    registered = []
    try:
        for a in spec["apps"]:
            register_application(a["app"], a["attrs"])
            registered.append(a["app"])
        for a in spec["apps"]:
            sid = f"{a['app']}-{uuid.uuid4().hex[:8]}"
            common = None
            if a["kind"] == "py":
                ctx = RunnerContext(execution_object=Bench)
                ref = put_object(f"{a['app']}/{sid}", cloudpickle.dumps(ctx, protocol=cloudpickle.DEFAULT_PROTOCOL))
                common = ref.encode()
            ssn = create_session(a["app"], common_data=common, session_id=sid, min_instances=1, max_instances=1)
            sessions.append((a["label"], ssn))
            value = get_object(ObjectRef.decode(ssn.invoke(task_input)))
            if value != 8:
                raise SystemExit(f"{a['label']}: add(5, 3) gave {value!r}")
        out = {label: [] for label, _ in sessions}
        for b in range(int(spec["blocks"])):
            k = b % len(sessions)
            for label, ssn in sessions[k:] + sessions[:k]:
                block = []
                for _ in range(int(spec["n"])):
                    t = time.perf_counter()
                    ssn.invoke(task_input)
                    block.append((time.perf_counter() - t) * 1000)
                out[label].append(block)
        print(json.dumps(out))
    finally:
        for _, ssn in sessions:
            try:
                close_session(ssn.id)
            except Exception as e:  # report, and go on closing the others
                print(f"closing session {ssn.id}: {e}", file=sys.stderr)
        for app in registered:
            try:
                unregister_application(app)
            except Exception as e:
                print(f"unregistering {app}: {e}", file=sys.stderr)


if __name__ == "__main__":
    {"context": context, "requests": requests, "cache": cache, "drive": drive, "cluster": cluster}[sys.argv[1]](*sys.argv[2:])
