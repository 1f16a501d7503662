/**
 * Flow-control bookkeeping of the h2 fuzz server (h2-target.ts): what its input grants the client
 * (SETTINGS_INITIAL_WINDOW_SIZE, WINDOW_UPDATE) against the DATA the client sends back.
 *
 * The rule: the client never sends more DATA than the windows it was granted allow (RFC 9113 §6.9),
 * per stream and on the connection; and none on a stream it never opened or already closed (§5.1).
 *
 * What the client may have acted on when it sent a DATA frame: a prefix of the server's frames, all
 * written by then (frames wholly within the bytes written so far), and, since the client acknowledges
 * each SETTINGS as it processes it (before applying it, and before any DATA it lets go), not past the
 * first SETTINGS it had not acknowledged before that DATA. Within that range no SETTINGS changes the
 * initial window, and WINDOW_UPDATEs only add: so the largest windows the client can have seen are the
 * initial window of the last acknowledged SETTINGS plus every increment in the range. Sending more
 * than that is a broken rule whatever the timing; sending less is the client's business. A frame the
 * client refuses ends its connection (or its stream, with a RST_STREAM), so no DATA comes after it.
 *
 * The same bookkeeping tells when the client has sent all it could (every open stream blocked by a
 * window, or closed): a paced fuzz server waits for that before its next frame, so that each
 * WINDOW_UPDATE meets a blocked stream, whatever the machine's speed.
 */
import { FRAME_HEADER, Flag, FrameType, PREFACE, Setting } from '../../src/cache/h2/frames';

const DEFAULT_WINDOW = 65535;

/** A frame of the server's input that bears on the client's sending, and the byte offset where it ends. */
type Grant =
  | { end: number; kind: 'settings'; initialWindow?: number }
  | { end: number; kind: 'window'; id: number; increment: number }
  | { end: number; kind: 'reset'; id: number }
  | { end: number; kind: 'goaway' };

/** The windows the client may have: initial window, connection window, and each stream's increments. */
interface Windows {
  initial: number;
  conn: number;
  increments: Map<number, number>;
  settings: number;
}

/** The server's input, parsed once per input (every connection gets the same bytes). */
export class ServerGrants {
  private readonly grants: Grant[] = [];

  constructor(stream: Buffer) {
    for (let at = 0; at + FRAME_HEADER <= stream.length; ) {
      const length = stream.readUIntBE(at, 3);
      const type = stream[at + 3]!;
      const flags = stream[at + 4]!;
      const id = stream.readUInt32BE(at + 5) & 0x7fffffff;
      const end = at + FRAME_HEADER + length;
      if (end > stream.length) break;
      const payload = stream.subarray(at + FRAME_HEADER, end);
      if (type === FrameType.SETTINGS && (flags & Flag.ACK) === 0) {
        let initialWindow: number | undefined;
        for (let i = 0; i + 6 <= payload.length; i += 6) if (payload.readUInt16BE(i) === Setting.INITIAL_WINDOW_SIZE) initialWindow = payload.readUInt32BE(i + 2);
        this.grants.push({ end, kind: 'settings', initialWindow });
      } else if (type === FrameType.WINDOW_UPDATE && length === 4) {
        this.grants.push({ end, kind: 'window', id, increment: payload.readUInt32BE(0) & 0x7fffffff });
      } else if (type === FrameType.RST_STREAM) {
        this.grants.push({ end, kind: 'reset', id });
      } else if (type === FrameType.GOAWAY) {
        this.grants.push({ end, kind: 'goaway' });
      }
      at = end;
    }
  }

  /** The largest windows a client can have acted on: frames within `written` bytes, before the SETTINGS after the `acks`-th. */
  windows(written: number, acks: number): Windows {
    const w: Windows = { initial: DEFAULT_WINDOW, conn: DEFAULT_WINDOW, increments: new Map(), settings: 0 };
    for (const g of this.grants) {
      if (g.end > written) break;
      if (g.kind === 'settings') {
        if (w.settings === acks) break;
        w.settings++;
        if (g.initialWindow !== undefined) w.initial = g.initialWindow;
      } else if (g.kind === 'window') {
        if (g.id === 0) w.conn += g.increment;
        else w.increments.set(g.id, (w.increments.get(g.id) ?? 0) + g.increment);
      }
    }
    return w;
  }

  /** SETTINGS frames, and whether a GOAWAY is among the frames within `written` bytes; streams the server reset there. */
  written(written: number): { settings: number; goaway: boolean; reset: Set<number> } {
    const out = { settings: 0, goaway: false, reset: new Set<number>() };
    for (const g of this.grants) {
      if (g.end > written) break;
      if (g.kind === 'settings') out.settings++;
      else if (g.kind === 'goaway') out.goaway = true;
      else if (g.kind === 'reset') out.reset.add(g.id);
    }
    return out;
  }
}

/** What the client sent on one connection, read frame header by frame header as it arrives. */
export class ClientFlow {
  /** Streams the client opened (its HEADERS seen), and those it closed (END_STREAM or RST_STREAM sent). */
  readonly opened = new Set<number>();
  private readonly closed = new Set<number>();
  private readonly sent = new Map<number, number>();
  private connSent = 0;
  private acks = 0;
  /** The client sent GOAWAY: it is done with the connection. */
  private goaway = false;
  /** Bytes still to skip: the preface, then each frame's payload. */
  private skip = PREFACE.length;
  private head = Buffer.alloc(0);
  /** The first broken rule, as a plain Error. */
  violation?: Error;

  constructor(
    private readonly grants: ServerGrants,
    /** Bytes of the input the server has written on this connection so far. */
    private readonly written: () => number,
  ) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        this.skip -= n;
        at += n;
        continue;
      }
      const need = FRAME_HEADER - this.head.length;
      this.head = Buffer.concat([this.head, chunk.subarray(at, at + need)]);
      at += Math.min(need, chunk.length - at);
      if (this.head.length < FRAME_HEADER) return;
      this.frame(this.head.readUIntBE(0, 3), this.head[3]!, this.head[4]!, this.head.readUInt32BE(5) & 0x7fffffff);
      this.skip = this.head.readUIntBE(0, 3);
      this.head = Buffer.alloc(0);
    }
  }

  private frame(length: number, type: number, flags: number, id: number): void {
    if (type === FrameType.SETTINGS && flags & Flag.ACK) this.acks++;
    else if (type === FrameType.GOAWAY) this.goaway = true;
    else if (type === FrameType.RST_STREAM) this.closed.add(id);
    else if (type === FrameType.HEADERS) {
      this.opened.add(id);
      if (flags & Flag.END_STREAM) this.closed.add(id);
    } else if (type === FrameType.DATA) {
      this.data(id, length);
      if (flags & Flag.END_STREAM) this.closed.add(id);
    }
  }

  private data(id: number, length: number): void {
    if (!this.opened.has(id) || this.closed.has(id)) {
      this.violation ??= new Error(`the client sent DATA on stream ${id}, which it ${this.opened.has(id) ? 'had closed' : 'never opened'}`);
    }
    const sent = (this.sent.get(id) ?? 0) + length;
    this.sent.set(id, sent);
    this.connSent += length;
    const w = this.grants.windows(this.written(), this.acks);
    const allowed = w.initial + (w.increments.get(id) ?? 0);
    if (sent > allowed) {
      this.violation ??= new Error(
        `the client sent ${sent} bytes of DATA on stream ${id}, past the ${allowed} its windows allowed (initial window ${w.initial} of ${this.acks} SETTINGS acknowledged, increments ${allowed - w.initial})`,
      );
    }
    if (this.connSent > w.conn) this.violation ??= new Error(`the client sent ${this.connSent} bytes of DATA on the connection, past the ${w.conn} its window allowed`);
  }

  /**
   * The client has sent all it could on what it read: it answered every SETTINGS, and every stream it
   * opened is closed (by it, or by the server's RST_STREAM) or has used its window, or the connection's
   * is used up. After a GOAWAY either way nothing is waited for.
   */
  get idle(): boolean {
    if (this.goaway) return true;
    const written = this.written();
    const server = this.grants.written(written);
    if (server.goaway) return true;
    if (this.acks < server.settings) return false;
    const w = this.grants.windows(written, this.acks);
    if (this.connSent >= w.conn) return true;
    for (const id of this.opened) {
      if (this.closed.has(id) || server.reset.has(id)) continue;
      if ((this.sent.get(id) ?? 0) < w.initial + (w.increments.get(id) ?? 0)) return false;
    }
    return true;
  }
}
