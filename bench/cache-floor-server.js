// The floor of the embedded cache server on node:http2: a bare node:http2 server answering pyarrow's DoPut and DoGet
// with fixed bytes (argv: the framed PutResult and the framed DoGet answer, hex), reading each request and doing no
// other work. bench/cache-server.ts runs it beside the real servers (`--floor`) so that what node:http2 costs per call
// and what our server adds are measured in the same run. Plain JavaScript and nothing else loaded, as small a process
// as Node allows. Not a cache: a get answers the same object for any ticket; any other method answers OK, no messages.
const http2 = require('node:http2');

const putResult = Buffer.from(process.argv[2], 'hex');
const getAnswer = Buffer.from(process.argv[3], 'hex');
const HEADERS = { ':status': 200, 'content-type': 'application/grpc' };
const OK = { 'grpc-status': '0' };
const server = http2.createServer();
// The same windows as the embedded server (src/cache/server/session-windows.ts).
server.on('session', (session) => {
  session.settings({ initialWindowSize: 1024 * 1024 });
  session.setLocalWindowSize(1024 * 1024);
});
server.on('stream', (stream, headers) => {
  const path = headers[':path'];
  const answer = path.endsWith('/DoPut') ? putResult : path.endsWith('/DoGet') ? getAnswer : undefined;
  stream.on('data', () => undefined);
  stream.on('end', () => {
    // No date header, as the embedded server (src/cache/server/raw-call.ts): the cheapest node:http2 answer.
    if (!answer) return stream.respond({ ...HEADERS, ...OK }, { endStream: true, sendDate: false });
    stream.respond(HEADERS, { waitForTrailers: true, sendDate: false });
    stream.once('wantTrailers', () => stream.sendTrailers(OK));
    stream.end(answer);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`grpc://127.0.0.1:${server.address().port}\n`));
process.on('SIGINT', () => process.exit(0));
