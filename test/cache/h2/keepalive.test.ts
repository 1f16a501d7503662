/**
 * Keepalive of the cache client's HTTP/2 connections (src/cache/h2/connection.ts): a connection whose
 * server went silent under a call is failed by an unanswered PING, not by the call's deadline; a slow
 * server that answers PINGs keeps its calls; idle connections are not pinged. Intervals are small,
 * deadlines long: the tests assert what happens, never how long it took.
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { status as Status } from '@grpc/grpc-js';
import { Http2Transport, type KeepaliveOptions } from '../../../src/cache/transport';
import { CacheClient } from '../../../src/cache/client';
import { ErrorCode as FlmCode } from '../../../src/errors';
import { ErrorCode, Flag, FrameType } from '../../../src/cache/h2/frames';
import { encodeHeaders } from '../../../src/cache/h2/hpack';
import { Peer, RawServer, flightData, grpcFrame } from './raw-peer';
import { callFailure, listenLoopback, startServer } from '../helpers';
import { parseEndpoint, type CacheEndpoint } from '../../../src/cache/endpoint';

const LONG = 600_000;

/** A TCP server that accepts connections, reads what comes and never writes a byte. */
async function muteServer(): Promise<{ endpoint: CacheEndpoint; sockets: net.Socket[]; close: () => Promise<void> }> {
  const sockets: net.Socket[] = [];
  const mute = net.createServer((s) => {
    s.on('error', () => undefined);
    sockets.push(s);
  });
  const endpoint = await listenLoopback(mute);
  const close = async (): Promise<void> => {
    sockets.forEach((s) => s.destroy());
    await new Promise((r) => mute.close(r));
  };
  return { endpoint, sockets, close };
}

describe('keepalive PINGs while calls are open', () => {
  let server: RawServer & { endpoint: NonNullable<RawServer['endpoint']> };
  let transport: Http2Transport | undefined;
  const answer = { onBody: (p: Peer, id: number) => p.respond(id, [flightData(7)]) };

  beforeEach(async () => {
    server = await RawServer.start(answer);
  });
  afterEach(async () => {
    transport?.close();
    transport = undefined;
    await server.close();
  });

  const open = (keepalive: KeepaliveOptions): Http2Transport => (transport = new Http2Transport(() => undefined, keepalive));
  const get = (t: Http2Transport, deadlineMs = LONG): Promise<number[]> => {
    const got: number[] = [];
    return t.doGet(server.endpoint, Buffer.from('k'), { deadlineMs }, (m) => void got.push(...m.data_body)).then(() => got);
  };

  it('a server that goes silent (reads on, answers nothing, not even PINGs): the call fails UNAVAILABLE long before its deadline, the next call gets a new connection', async () => {
    const t = open({ keepaliveMs: 20, keepaliveTimeoutMs: 20 });
    await expect(get(t)).resolves.toEqual([7]); // a connection in use, then the server stops
    server.behaviour = { onBody: () => undefined, onPing: () => false };
    const err = await callFailure(get(t));
    expect(err.code).toBe(Status.UNAVAILABLE);
    expect(err.details).toContain('keepalive PING');
    expect(server.peers[0]!.pings).toBeGreaterThanOrEqual(1);
    await server.peers[0]!.closed; // the client dropped it
    server.behaviour = answer;
    await expect(get(t)).resolves.toEqual([7]);
    expect(server.peers).toHaveLength(2);
  });

  it('a server that stops reading altogether (its socket paused): UNAVAILABLE by keepalive, not the deadline', async () => {
    const t = open({ keepaliveMs: 20, keepaliveTimeoutMs: 20 });
    server.behaviour = { onRequest: (p) => p.socket.pause() };
    const err = await callFailure(get(t));
    expect(err.code).toBe(Status.UNAVAILABLE);
    expect(err.details).toContain('keepalive PING');
  });

  it('a TCP server that accepts and never speaks HTTP/2: UNAVAILABLE by keepalive, saying not even SETTINGS came', async () => {
    const { endpoint, sockets, close } = await muteServer();
    const t = open({ keepaliveMs: 20, keepaliveTimeoutMs: 20 });
    try {
      const err = await callFailure(t.doGet(endpoint, Buffer.from('k'), { deadlineMs: LONG }, () => undefined));
      expect(err.code).toBe(Status.UNAVAILABLE);
      expect(err.details).toContain('not even its HTTP/2 SETTINGS');
      // Connected, so the request may have left: it is not sent again.
      expect(sockets).toHaveLength(1);
    } finally {
      await close();
    }
  });

  it('a TLS handshake that never completes: UNAVAILABLE saying the connection was not established, and the call sent once more (nothing left the machine)', async () => {
    const { endpoint: plain, sockets, close } = await muteServer();
    const endpoint = parseEndpoint(`grpcs://${plain.target}`);
    const t = open({ keepaliveMs: 20, keepaliveTimeoutMs: 20 });
    try {
      const err = await callFailure(t.doGet(endpoint, Buffer.from('k'), { deadlineMs: LONG }, () => undefined));
      expect(err.code).toBe(Status.UNAVAILABLE);
      expect(err.details).toContain(`could not establish a connection to ${plain.target}`);
      expect(err.details).toContain('TLS handshake did not complete');
      expect(sockets).toHaveLength(2);
    } finally {
      await close();
    }
  });

  it('a slow server that answers PINGs keeps its call: answered only after its third PING, the call succeeds on the one connection', async () => {
    const t = open({ keepaliveMs: 5, keepaliveTimeoutMs: 5 });
    const pending: { peer: Peer; id: number }[] = [];
    server.behaviour = {
      onBody: (peer, id) => void pending.push({ peer, id }),
      onPing: (peer) => {
        // The ACK goes first (the default after this returns): answered on the third.
        if (peer.pings === 3) setImmediate(() => pending.splice(0).forEach((c) => c.peer.respond(c.id, [flightData(8)])));
      },
    };
    await expect(get(t)).resolves.toEqual([8]);
    expect(server.peers).toHaveLength(1);
    expect(server.peers[0]!.pings).toBeGreaterThanOrEqual(3);
  });

  it('an event loop blocked past the timeout after the PING went out does not fail a live connection (the ACK is read before the verdict)', async () => {
    const t = open({ keepaliveMs: 5, keepaliveTimeoutMs: 5 });
    const pending: { peer: Peer; id: number }[] = [];
    server.behaviour = {
      onBody: (peer, id) => void pending.push({ peer, id }),
      onPing: (peer) => {
        peer.send(FrameType.PING, Flag.ACK, 0, Buffer.from('flmrunka'));
        // Server and client share this process: a 100 ms busy wait blocks the client past its 5 ms timeout.
        const until = Date.now() + 100;
        while (Date.now() < until);
        if (peer.pings === 2) pending.splice(0).forEach((c) => c.peer.respond(c.id, [flightData(9)]));
        return false; // the ACK is already sent
      },
    };
    await expect(get(t)).resolves.toEqual([9]);
    expect(server.peers).toHaveLength(1);
  });

  it('connections without calls are not pinged', async () => {
    const t = open({ keepaliveMs: 2, keepaliveTimeoutMs: 2 });
    await expect(get(t)).resolves.toEqual([7]);
    // A PING sent while the call was open may still be on its way: counted once the connection has sat idle a while.
    await new Promise((r) => setTimeout(r, 200));
    const before = server.peers[0]!.pings;
    await new Promise((r) => setTimeout(r, 200)); // about 100 intervals
    expect(server.peers[0]!.pings).toBe(before);
    await expect(get(t)).resolves.toEqual([7]);
    expect(server.peers).toHaveLength(1);
  });

  it('keepaliveMs 0: no PINGs; a silent server holds the call until its deadline (DEADLINE_EXCEEDED)', async () => {
    const t = open({ keepaliveMs: 0, keepaliveTimeoutMs: 1 });
    await expect(get(t)).resolves.toEqual([7]); // connected before a short deadline runs
    server.behaviour = { onBody: () => undefined };
    const err = await callFailure(get(t, 300));
    expect(err.code).toBe(Status.DEADLINE_EXCEEDED);
    expect(server.peers[0]!.pings).toBe(0);
  });

  it('a call whose deadline ends on a dead connection has it probed at once: dropped, and the next call opens a new one', async () => {
    // An interval no call here reaches: only the deadline's probe pings.
    const t = open({ keepaliveMs: LONG, keepaliveTimeoutMs: 20 });
    await expect(get(t)).resolves.toEqual([7]); // connected before a short deadline runs
    server.behaviour = { onBody: () => undefined, onPing: () => false };
    const err = await callFailure(get(t, 50));
    expect(err.code).toBe(Status.DEADLINE_EXCEEDED);
    await server.peers[0]!.closed;
    expect(server.peers[0]!.pings).toBe(1);
    server.behaviour = answer;
    await expect(get(t)).resolves.toEqual([7]);
    expect(server.peers).toHaveLength(2);
  });

  it('a deadline on a call that has read from its server within the interval: no probe PING (the connection is known alive)', async () => {
    const t = open({ keepaliveMs: LONG, keepaliveTimeoutMs: 20 });
    await expect(get(t)).resolves.toEqual([7]); // connected before a short deadline runs
    server.behaviour = { onBody: (p, id) => p.headers(id) };
    // Long enough for the server's HEADERS to be read before it ends, on a busy machine too.
    const err = await callFailure(get(t, 1000));
    expect(err.code).toBe(Status.DEADLINE_EXCEEDED);
    server.behaviour = answer;
    // A probe PING would reach the server before this request on the same connection.
    await expect(get(t)).resolves.toEqual([7]);
    expect(server.peers).toHaveLength(1);
    expect(server.peers[0]!.pings).toBe(0);
  });

  it('a deadline on a live but slow server: the probe is answered and the connection kept', async () => {
    const t = open({ keepaliveMs: LONG, keepaliveTimeoutMs: 20 });
    await expect(get(t)).resolves.toEqual([7]); // connected before a short deadline runs
    server.behaviour = { onBody: () => undefined };
    const err = await callFailure(get(t, 50));
    expect(err.code).toBe(Status.DEADLINE_EXCEEDED);
    while (server.peers[0]!.pings === 0) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 100)); // past the 20 ms timeout: a wrong verdict would have dropped it by now
    server.behaviour = answer;
    await expect(get(t)).resolves.toEqual([7]);
    expect(server.peers).toHaveLength(1);
  });
});

describe('CacheClient keepalive options', () => {
  it.each([
    [{ keepaliveMs: -1 }, /keepaliveMs/],
    [{ keepaliveMs: 1.5 }, /keepaliveMs/],
    [{ keepaliveTimeoutMs: 0 }, /keepaliveTimeoutMs/],
  ])('%j is refused with a message naming it', (opts, words) => {
    expect(() => new CacheClient(opts)).toThrow(words);
  });

  it('keepalive reaches the connection: a CacheClient get from a silent server fails UNAVAILABLE, not at its deadline', async () => {
    const server = await RawServer.start({ onBody: () => undefined, onPing: () => false });
    const client = new CacheClient({ deadlineMs: LONG, keepaliveMs: 10, keepaliveTimeoutMs: 10, retries: 0 });
    try {
      const endpoint = `grpc://${server.endpoint.target}`;
      await expect(client.get({ endpoint, key: 'app/s/k', version: 0 })).rejects.toMatchObject({ message: expect.stringContaining('keepalive PING') });
    } finally {
      client.close();
      await server.close();
    }
  });
});

describe('keepalive of the grpc-js channel (the other Flight methods: DoAction, GetFlightInfo, ListFlights)', () => {
  it('a delete on a server that went silent fails UNAVAILABLE, not at its deadline (the HTTP/2 transport: this channel carries only short calls)', async () => {
    const server = await RawServer.start({ onBody: () => undefined, onPing: () => false });
    const client = new CacheClient({ endpoint: `grpc://${server.endpoint.target}`, deadlineMs: LONG, keepaliveMs: 10, keepaliveTimeoutMs: 10, retries: 0 });
    try {
      await expect(client.delete('app/s')).rejects.toMatchObject({ code: FlmCode.Unavailable });
    } finally {
      client.close();
      await server.close();
    }
  });
});

describe('no grpc-js keepalive when DoPut and DoGet travel on grpc-js (its PINGs would cut live transfers)', () => {
  it("transport 'grpc-js': a call whose server answers PINGs never and the call late still gets its answer", async () => {
    const late = (peer: Peer, id: number): void => void setTimeout(() => peer.respond(id, [Buffer.from([0x0a, 0x02, 0x4f, 0x4b])]), 300);
    const server = await RawServer.start({ onBody: late, onPing: () => false });
    const client = new CacheClient({ endpoint: `grpc://${server.endpoint.target}`, deadlineMs: LONG, keepaliveMs: 10, keepaliveTimeoutMs: 10, retries: 0, transport: 'grpc-js' });
    try {
      await client.delete('app/s');
      expect(server.peers.reduce((n, p) => n + p.pings, 0)).toBe(0);
    } finally {
      client.close();
      await server.close();
    }
  });
});

describe('keepalive against real servers', () => {
  it('the embedded cache (grpc-js): puts and gets, 32 MiB among them, with a PING after every 1 ms of silence', async () => {
    const { server, endpoint } = await startServer();
    const client = new CacheClient({ endpoint, keepaliveMs: 1, keepaliveTimeoutMs: 30_000 });
    try {
      const big = crypto.randomBytes(32 * 1024 * 1024);
      const ref = await client.put('app/ka', big);
      const got = await client.get(ref);
      expect(got.kind === 'opaque' && Buffer.concat([got.base, ...got.patches]).equals(big)).toBe(true);
      for (let i = 0; i < 20; i++) {
        const small = await client.get(await client.put('app/ka', Buffer.from(`small ${i}`)));
        expect(small.kind === 'opaque' && small.base.toString()).toBe(`small ${i}`);
      }
    } finally {
      client.close();
      await server.close();
    }
  });
});

describe('keepalive back-off (grpc servers answer PINGs too close together with GOAWAY too_many_pings)', () => {
  let server: RawServer & { endpoint: NonNullable<RawServer['endpoint']> };
  let transport: Http2Transport | undefined;

  beforeEach(async () => {
    server = await RawServer.start({ onBody: (p, id) => p.respond(id, [flightData(7)]) });
  });
  afterEach(async () => {
    transport?.close();
    transport = undefined;
    await server.close();
  });

  const get = (t: Http2Transport): Promise<number[]> => {
    const got: number[] = [];
    return t.doGet(server.endpoint, Buffer.from('k'), { deadlineMs: LONG }, (m) => void got.push(...m.data_body)).then(() => got);
  };

  it('a silent call: the interval doubles after each PING answered only by its ACK, and is back to keepaliveMs once the server sends HEADERS or DATA', async () => {
    // The timeout is generous: every PING here is answered, and a busy machine must not drop the connection.
    const t = (transport = new Http2Transport(() => undefined, { keepaliveMs: 10, keepaliveTimeoutMs: 300 }));
    const pending: { peer: Peer; id: number }[] = [];
    // The interval the client waited before each PING it sent.
    const intervals: (number | undefined)[] = [];
    server.behaviour = {
      onBody: (peer, id) => void pending.push({ peer, id }),
      onPing: (peer) => {
        intervals.push(t.keepaliveIntervalOf(server.endpoint));
        // After the fourth, a message of the answer (real data): the next wait is keepaliveMs again.
        if (peer.pings === 4) for (const c of pending) c.peer.headers(c.id);
        if (peer.pings === 6) pending.splice(0).forEach((c) => {
          c.peer.send(FrameType.DATA, 0, c.id, grpcFrame(flightData(5)));
          c.peer.send(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, c.id, encodeHeaders([['grpc-status', '0']]));
        });
      },
    };
    await expect(get(t)).resolves.toEqual([5]);
    expect(intervals).toEqual([10, 20, 40, 80, 10, 20]);
    expect(server.peers).toHaveLength(1);
  });

  it('a call answered after backing off leaves none for the next call on the connection (it is watched at keepaliveMs again)', async () => {
    // keepaliveMs 100, timeout 100: PING 1 after 100 ms, its cycle ends 100 ms later and the interval doubles to 200;
    // PING 2, and 100 ms later the interval doubles to 400. The answer comes 300 ms after PING 2: inside that
    // 400 ms wait (200 ms of slack each way), when the connection has already backed off.
    const t = (transport = new Http2Transport(() => undefined, { keepaliveMs: 100, keepaliveTimeoutMs: 100 }));
    const intervals: (number | undefined)[] = [];
    let call = 0;
    // The wait the second call's connection armed when the call started.
    let armedForSecond: number | undefined;
    server.behaviour = {
      onBody: () => {
        if (++call === 2) armedForSecond = t.keepaliveIntervalOf(server.endpoint);
      },
      onPing: (peer) => {
        intervals.push(t.keepaliveIntervalOf(server.endpoint));
        const id = [...peer.bodies.keys()].pop()!;
        const n = call;
        if (n === 1 && peer.pings === 2) setTimeout(() => peer.respond(id, [flightData(n)]), 300);
        if (n === 2) peer.respond(id, [flightData(n)]);
      },
    };
    await expect(get(t)).resolves.toEqual([1]);
    await expect(get(t)).resolves.toEqual([2]);
    expect(server.peers).toHaveLength(1);
    expect(armedForSecond).toBe(100);
    expect(intervals).toEqual([100, 200, 100]);
  });

  it('GOAWAY ENHANCE_YOUR_CALM "too_many_pings" doubles the interval of later connections; other GOAWAYs do not', async () => {
    const t = (transport = new Http2Transport(() => undefined, { keepaliveMs: 10, keepaliveTimeoutMs: 300 }));
    let reply: { code: number; debug: string } | undefined = { code: ErrorCode.ENHANCE_YOUR_CALM, debug: 'too_many_pings' };
    const intervals: (number | undefined)[] = [];
    server.behaviour = {
      onBody: () => undefined,
      onPing: (peer) => {
        intervals.push(t.keepaliveIntervalOf(server.endpoint));
        // The call is covered by the GOAWAY: answered, then the connection ends.
        const id = [...peer.bodies.keys()].pop()!;
        if (reply) peer.goaway(id, reply.code, reply.debug);
        peer.respond(id, [flightData(6)]);
        return false;
      },
    };
    expect(t.keepaliveStartOf(server.endpoint)).toBe(10);
    await expect(get(t)).resolves.toEqual([6]);
    await server.peers[0]!.closed;
    expect(t.keepaliveStartOf(server.endpoint)).toBe(20);
    // Only for that server: another endpoint's connections start at keepaliveMs.
    expect(t.keepaliveStartOf(parseEndpoint('grpc://127.0.0.1:1'))).toBe(10);
    await expect(get(t)).resolves.toEqual([6]);
    await server.peers[1]!.closed;
    expect(t.keepaliveStartOf(server.endpoint)).toBe(40);
    reply = { code: ErrorCode.ENHANCE_YOUR_CALM, debug: 'other abuse' };
    await expect(get(t)).resolves.toEqual([6]);
    await server.peers[2]!.closed;
    reply = { code: ErrorCode.NO_ERROR, debug: 'too_many_pings' };
    await expect(get(t)).resolves.toEqual([6]);
    await server.peers[3]!.closed;
    expect(t.keepaliveStartOf(server.endpoint)).toBe(40);
    // Each connection's first PING came after the interval the transport had then.
    expect(intervals).toEqual([10, 20, 40, 40]);
  });
});
