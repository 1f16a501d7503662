// One unary gRPC answerer on a Unix socket, for bench/unary-floor.ts: it answers every call with the same
// TaskResult bytes once the request has arrived, doing no other work, on one of three HTTP/2 server stacks:
//   grpc-js      @grpc/grpc-js's Server (with the options of flmrun-js's Instance server), as serve answers today;
//   node-http2   node:http2 alone, the cheapest answer it allows (no date header, trailers on 'wantTrailers');
//   minimal      a few lines of HTTP/2 over node:net: the least any HTTP/2 server in Node can cost per call.
//   minimal-split  the same, its trailers written one loop turn after the answer's HEADERS and DATA, as node:http2 does.
// The minimal answerer is for measurement only and not a server: it decodes no headers (HPACK), takes any path,
// returns the connection's flow-control window as data arrives and keeps no limit. Plain JavaScript, so that each
// process loads nothing but its stack.
//   node bench/unary-floor-server.js SOCKET MODE ANSWER_HEX [GRPC_JS_OPTIONS_JSON]
const fs = require('node:fs');
const net = require('node:net');
const http2 = require('node:http2');

const [socket, mode, answerHex, optionsJson] = process.argv.slice(2);
const message = Buffer.from(answerHex, 'hex');
const framed = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), message]);
framed.writeUInt32BE(message.length, 1);
const ready = () => process.stdout.write('ready\n');
try {
  fs.unlinkSync(socket);
} catch {
  // not there
}

if (mode === 'grpc-js') {
  const grpc = require('@grpc/grpc-js');
  const server = new grpc.Server(JSON.parse(optionsJson || '{}'));
  const same = (x) => x;
  const method = { path: '/flame.v1.Instance/OnTaskInvoke', requestStream: false, responseStream: false, requestSerialize: same, requestDeserialize: same, responseSerialize: same, responseDeserialize: same };
  server.addService({ OnTaskInvoke: method }, { OnTaskInvoke: (_call, callback) => callback(null, message) });
  server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? process.exit(1) : ready()));
} else if (mode === 'node-http2') {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('data', () => undefined);
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true, sendDate: false });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(framed);
    });
  });
  server.listen(socket, ready);
} else if (mode === 'minimal' || mode === 'minimal-split') {
  const frame = (type, flags, stream, payload) => {
    const head = Buffer.alloc(9);
    head.writeUIntBE(payload.length, 0, 3);
    head[3] = type;
    head[4] = flags;
    head.writeUInt32BE(stream, 5);
    return [head, payload];
  };
  // HPACK (RFC 7541): :status 200 is static entry 8; content-type (static 31) as a literal without indexing.
  const headerBlock = Buffer.concat([Buffer.from([0x88, 0x0f, 0x10, 16]), Buffer.from('application/grpc')]);
  const trailerBlock = Buffer.concat([Buffer.from([0x00, 11]), Buffer.from('grpc-status'), Buffer.from([1]), Buffer.from('0')]);
  const PREFACE = 24;
  net
    .createServer((conn) => {
      let pending = Buffer.alloc(0);
      let prefaceSeen = false;
      let unreturned = 0;
      conn.write(Buffer.concat(frame(4, 0, 0, Buffer.alloc(0)))); // SETTINGS
      conn.on('data', (chunk) => {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        if (!prefaceSeen) {
          if (pending.length < PREFACE) return;
          pending = pending.subarray(PREFACE);
          prefaceSeen = true;
        }
        const out = [];
        while (pending.length >= 9) {
          const length = pending.readUIntBE(0, 3);
          if (pending.length < 9 + length) break;
          const [type, flags] = [pending[3], pending[4]];
          const stream = pending.readUInt32BE(5) & 0x7fffffff;
          const payload = pending.subarray(9, 9 + length);
          pending = pending.subarray(9 + length);
          if (type === 0) unreturned += length;
          if (type === 4 && !(flags & 1)) out.push(...frame(4, 1, 0, Buffer.alloc(0))); // SETTINGS ACK
          else if (type === 6 && !(flags & 1)) out.push(...frame(6, 1, 0, Buffer.from(payload))); // PING ACK
          else if ((type === 0 || type === 1) && flags & 1) {
            // The request's END_STREAM: answer HEADERS, DATA, then the trailers (END_STREAM).
            out.push(...frame(1, 4, stream, headerBlock), ...frame(0, 0, stream, framed));
            const trailers = Buffer.concat(frame(1, 5, stream, trailerBlock));
            if (mode === 'minimal') out.push(trailers);
            else setImmediate(() => conn.write(trailers));
          }
        }
        if (unreturned >= 16384) {
          const increment = Buffer.alloc(4);
          increment.writeUInt32BE(unreturned);
          out.push(...frame(8, 0, 0, increment)); // WINDOW_UPDATE, connection
          unreturned = 0;
        }
        if (out.length) conn.write(Buffer.concat(out));
      });
      conn.on('error', () => undefined);
    })
    .listen(socket, ready);
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
process.on('SIGTERM', () => process.exit(0));
