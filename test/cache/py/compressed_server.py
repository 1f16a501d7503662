"""A small pyarrow Flight server answering DoGet like Flame's cache, with compressed bodies.

Ticket "<app>/<codec>/<name>:<version>": codec is zstd, lz4 or none; name "table" answers a
native Arrow table, "big" an opaque object of version 3 whose base is BIG (JSON-like lines, above
16 MiB: one ZSTD frame of mostly compressed blocks), anything else an opaque object of version 4 (one
base row, one patch row), or "not modified" (the schema, no rows) to a client that holds version 4.
Prints its port, then serves until stdin closes.
"""
import sys
import threading

import pyarrow as pa
import pyarrow.flight as fl

PAYLOAD = b"flame " * 50_000  # compressible, so the codec is really used
# 800,000 lines, about 22 MB; test/cache/interop.test.ts builds the same bytes.
BIG = "".join('{"id":%d,"score":%d}\n' % (i, (i * 7919) % 100003) for i in range(800_000)).encode()


class Server(fl.FlightServerBase):
    def do_get(self, context, ticket):
        key, _, _version = ticket.ticket.decode().rpartition(":")
        _app, codec, name = key.split("/")
        options = pa.ipc.IpcWriteOptions(compression=None if codec == "none" else codec)
        if name == "table":
            table = pa.table({"n": pa.array(range(100_000), pa.int64()), "s": ["x" * 10] * 100_000})
            table = table.replace_schema_metadata(
                {"flame.cache.format": "arrow-table-v1", "flame.cache.version": "7", "flame.cache.logical_type": "pyarrow.table"}
            )
            return fl.RecordBatchStream(table, options=options)
        schema = pa.schema([("version", pa.uint64()), ("kind", pa.utf8()), ("data", pa.binary())])
        if name == "big":
            batch = pa.record_batch([pa.array([3], pa.uint64()), pa.array(["base"]), pa.array([BIG])], schema=schema)
            return fl.RecordBatchStream(pa.RecordBatchReader.from_batches(schema, [batch]), options=options)
        if _version == "4":
            return fl.RecordBatchStream(pa.RecordBatchReader.from_batches(schema, []), options=options)
        batches = [
            pa.record_batch([pa.array([3], pa.uint64()), pa.array(["base"]), pa.array([PAYLOAD])], schema=schema),
            pa.record_batch([pa.array([4], pa.uint64()), pa.array(["patch"]), pa.array([b"delta " * 1000])], schema=schema),
        ]
        return fl.RecordBatchStream(pa.RecordBatchReader.from_batches(schema, batches), options=options)


server = Server("grpc://127.0.0.1:0")
print(server.port, flush=True)
threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
server.serve()
