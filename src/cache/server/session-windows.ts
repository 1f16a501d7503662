/**
 * HTTP/2 flow-control windows of the embedded cache's connections.
 *
 * node:http2 (and so grpc-js) receives with HTTP/2's default 64 KiB windows:
 * a 1 MiB put then waits for the server's WINDOW_UPDATE every 32-64 KiB, a
 * round trip each. Flame's cache (tonic on hyper) opens each connection with
 * 1 MiB for the connection and 1 MiB per stream; so does this server, which
 * lets a client buffer no more unread bytes in it than the reference server
 * does. What a put holds once read is bounded by the PutBudget as before.
 *
 * grpc-js has no option for these settings: `tuneWindows` wraps the server's
 * private `_setupHandlers`, which receives each node:http2 server before it
 * binds, to add a 'session' listener. When the method is missing (grpc-js's
 * internals moved) it returns false and the defaults stay.
 */
import type http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

/** hyper's server defaults, which Flame's cache uses (it sets no window of its own). */
export const CONNECTION_WINDOW_BYTES = 1024 * 1024;
export const STREAM_WINDOW_BYTES = 1024 * 1024;

/**
 * Our SETTINGS_MAX_FRAME_SIZE. At the default 16 KiB a client sends a 64 MiB put as 4,096 DATA
 * frames, and node:http2 raises a 'data' event (a Buffer and a stream push) for each.
 * Above the 64 KiB a socket read brings, larger frames save nothing more: nghttp2 hands a DATA
 * frame's bytes on as they arrive. A few other frames (a GOAWAY's debug data) it gathers whole, so
 * this is also what a hostile connection can make it hold beyond the windows: a quarter of them.
 */
export const MAX_FRAME_BYTES = 256 * 1024;

type SetupHandlers = (this: unknown, http2Server: http2.Http2Server | null, ...rest: unknown[]) => void;

/** Opens every connection of `server` with the windows and the max frame size above (call before it binds). */
export function tuneWindows(server: grpc.Server): boolean {
  const target = server as unknown as { _setupHandlers?: unknown };
  const original = target._setupHandlers;
  if (typeof original !== 'function') return false;
  const setup = original as SetupHandlers;
  target._setupHandlers = function (this: unknown, http2Server: http2.Http2Server | null, ...rest: unknown[]): void {
    http2Server?.on('session', (session: http2.ServerHttp2Session) => {
      // The stream window goes out as a SETTINGS change (it also applies to streams already open).
      session.settings({ initialWindowSize: STREAM_WINDOW_BYTES, maxFrameSize: MAX_FRAME_BYTES });
      session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
    });
    setup.call(this, http2Server, ...rest);
  };
  return true;
}
