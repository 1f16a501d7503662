"""Flame's real Python SDK drives flmrun-js and reads its results (issue 7)."""
import uuid

import cloudpickle
import pyarrow as pa
import pytest
from flamepy.core.cache import ObjectRef, get_object, put_object
from flamepy.proto import shim_pb2, types_pb2
from flamepy.runner.types import RunnerRequest

from conftest import fixture_url

APP = "pyinterop"


@pytest.fixture(scope="module")
def session(flmrun):
    stub, endpoint = flmrun
    sid = f"s-{uuid.uuid4().hex[:8]}"
    res = stub.OnSessionEnter(
        shim_pb2.SessionContext(
            session_id=sid, application=shim_pb2.ApplicationContext(name=APP, url=fixture_url("jsmath"))
        )
    )
    assert res.return_code == 0, res.message
    counter = iter(range(1, 1_000_000))

    def invoke(request: RunnerRequest):
        out = stub.OnTaskInvoke(
            shim_pb2.TaskContext(task_id=str(next(counter)), session_id=sid, input=cloudpickle.dumps(request))
        )
        return out

    def call(method, *args, **kwargs):
        out = invoke(RunnerRequest(method=method, args=args or None, kwargs=kwargs or None))
        assert out.return_code == 0, out.message
        return get_object(ObjectRef.decode(out.output))

    yield invoke, call, sid, endpoint
    stub.OnSessionLeave(types_pb2.EmptyRequest())


def test_the_readme_snippet(session):
    invoke, _, _, _ = session
    out = invoke(RunnerRequest(method="add", args=(5, 3)))
    assert out.return_code == 0, out.message
    assert get_object(ObjectRef.decode(out.output)) == 8


def test_our_objectref_is_byte_identical_to_the_sdk_encoding(session):
    invoke, _, sid, endpoint = session
    out = invoke(RunnerRequest(method="add", args=(1, 2)))
    ref = ObjectRef.decode(out.output)
    assert ref.endpoint == endpoint
    assert ref.key.startswith(f"{APP}/{sid}/")
    assert ref.version == 1
    assert ref.encode() == out.output


def test_positional_keyword_and_no_arguments(session):
    _, call, _, _ = session
    assert call("greet", "Flame") == "Hello, Flame"
    assert call("greet", "Flame", greeting="Hi") == "Hi, Flame"
    assert call("echo") == []
    assert call("none") is None


def test_values_round_trip_as_native_python(session):
    _, call, _, _ = session
    big = 2**80 + 12345
    assert call("bigMul", 2**40, 2**41) == 2**81
    assert call("echo", big, -(2**70), 1.5, True, None, "ünï") == [big, -(2**70), 1.5, True, None, "ünï"]
    assert call("concatBytes", b"ab", b"\x00\xff") == b"ab\x00\xff"
    nested = {"a": [1, {"b": (2, 3)}], "c": {"d": None}}
    assert call("describe", nested) == {"type": "object", "value": {"a": [1, {"b": [2, 3]}], "c": {"d": None}}}
    assert call("containers") == {
        "list": [1, 2.5, "x", None],
        "map": {1: "one", 2: "two"},
        "set": {"a", "b"},
        "nested": {"t": [True, False]},
    }


def test_objectref_arguments_as_objects_and_as_bytes(session, flmrun):
    _, call, sid, _ = session
    r1 = put_object(f"{APP}/{sid}", b"hello ")
    r2 = put_object(f"{APP}/{sid}", b"world")
    assert call("concatBytes", r1, r2.encode()) == b"hello world"
    r3 = put_object(f"{APP}/{sid}", [1, 2, 3])
    assert call("lengths", r3, kw=r3) == [3, {"kw": 3}]


def test_a_js_arrow_table_reads_back_as_a_pyarrow_table(session):
    _, call, _, _ = session
    table = call("table", 5)
    assert isinstance(table, pa.Table)
    assert table.schema.names == ["id", "score", "name"]
    assert table.column("id").to_pylist() == [0, 1, 2, 3, 4]
    assert table.column("score").to_pylist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert table.column("name").to_pylist() == [f"row{i}" for i in range(5)]


def test_user_errors_come_back_with_a_clear_message(session):
    invoke, call, _, _ = session
    out = invoke(RunnerRequest(method="nope", args=(1,)))
    assert out.return_code == 2
    assert "nope" in out.message and "add" in out.message
    out = invoke(RunnerRequest(method="concatBytes", args=(1, 2)))
    assert out.return_code == 1
    assert "TypeError" in out.message
    assert call("add", 2, 2) == 4


def test_a_pickled_python_context_is_refused_with_code_2(flmrun):
    stub, _ = flmrun
    from flamepy.runner.types import RunnerContext

    sid = f"ctx-{uuid.uuid4().hex[:8]}"
    ctx = RunnerContext(execution_object=len)
    ref = put_object(f"{APP}/{sid}", cloudpickle.dumps(ctx))
    res = stub.OnSessionEnter(
        shim_pb2.SessionContext(
            session_id=sid,
            application=shim_pb2.ApplicationContext(name=APP, url=fixture_url("jsmath")),
            common_data=ref.encode(),
        )
    )
    assert res.return_code == 2
    assert "JavaScript" in res.message


@pytest.fixture(scope="module")
def ts_session(flmrun):
    """A TypeScript package (issue 12), entered from the shim like any other."""
    stub, _ = flmrun
    sid = f"ts-{uuid.uuid4().hex[:8]}"
    res = stub.OnSessionEnter(
        shim_pb2.SessionContext(
            session_id=sid, application=shim_pb2.ApplicationContext(name=APP, url=fixture_url("tsvalues"))
        )
    )
    assert res.return_code == 0, res.message
    counter = iter(range(1, 1_000_000))

    def invoke(method, *args, **kwargs):
        return stub.OnTaskInvoke(
            shim_pb2.TaskContext(
                task_id=str(next(counter)),
                session_id=sid,
                input=cloudpickle.dumps(RunnerRequest(method=method, args=args or None, kwargs=kwargs or None)),
            )
        )

    def call(method, *args, **kwargs):
        out = invoke(method, *args, **kwargs)
        assert out.return_code == 0, out.message
        return get_object(ObjectRef.decode(out.output))

    yield invoke, call
    stub.OnSessionLeave(types_pb2.EmptyRequest())


def test_datetime_arguments_and_date_results(ts_session):
    import datetime as dt

    _, call = ts_session
    utc = dt.timezone.utc
    got = call("shift", dt.datetime(2024, 2, 28, 23, 30, 0, 125000, tzinfo=utc), days=1)
    assert got == dt.datetime(2024, 2, 29, 23, 30, 0, 125000, tzinfo=utc)
    assert got.tzinfo is utc
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert call("shift", dt.datetime(2024, 1, 1, 2, 0, tzinfo=plus2)) == dt.datetime(2024, 1, 1, 0, 0, tzinfo=utc)
    assert call("kind", dt.datetime(2024, 1, 1, 12, 0)) == ["Date", "2024-01-01T12:00:00.000Z"]  # naive: UTC
    assert call("kind", dt.date(2024, 3, 1)) == ["Date", "2024-03-01T00:00:00.000Z"]
    assert call("kind", dt.timedelta(minutes=1, microseconds=500)) == ["number", 60000.5]
    epoch = call("epoch")
    assert epoch["at"] == dt.datetime(1970, 1, 1, tzinfo=utc)
    assert epoch["list"][0] is epoch["at"]
    assert epoch["list"][1] == dt.datetime(2000, 2, 29, 12, 30, 15, 250000, tzinfo=utc)


def test_to_json_objects_are_refused_and_empty_rejections_have_a_message(ts_session):
    invoke, _ = ts_session
    out = invoke("money")
    assert out.return_code != 0
    assert "type Money" in out.message and "toJSON()" in out.message
    out = invoke("nothing")
    assert out.return_code == 1
    assert out.message == "rejected with undefined"
