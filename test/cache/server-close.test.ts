/**
 * close() with a call still in flight: after closeGraceMs the call is cut and close() resolves, on both
 * server transports. (With grpc-js's channelz switched off, forceShutdown did not find the open sessions and
 * close() never resolved: a serve process stopping while a client was mid-put hung.)
 */
import http2 from 'node:http2';
import { startServer } from './helpers';

test.each(['http2', 'grpc-js'] as const)('a DoPut still sending at close is cut after the grace and close() resolves (%s)', async (transport) => {
  const { server, endpoint } = await startServer({ transport, closeGraceMs: 200 });
  const session = http2.connect(endpoint.replace(/^grpc:/, 'http:'));
  session.on('error', () => undefined);
  try {
    const stream = session.request({ ':method': 'POST', ':path': '/arrow.flight.protocol.FlightService/DoPut', 'content-type': 'application/grpc', te: 'trailers' });
    stream.on('error', () => undefined);
    const ended = new Promise<void>((resolve) => stream.once('close', resolve));
    // A gRPC message prefix announcing 1 MiB, then 10 bytes of it: the call stays open, waiting for the rest.
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(1 << 20, 1);
    await new Promise<void>((resolve) => stream.write(Buffer.concat([prefix, Buffer.alloc(10)]), () => resolve()));
    await new Promise((resolve) => setTimeout(resolve, 100)); // the server has the call open (if not, close() only has less to do)
    await server.close(); // the hang guard is jest's timeout
    await ended;
    expect(stream.rstCode !== undefined || stream.closed).toBe(true);
  } finally {
    session.destroy();
  }
});
