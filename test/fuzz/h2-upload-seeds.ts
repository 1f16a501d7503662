/**
 * Seeds of the h2-upload fuzz target (h2-target.ts with H2_UPLOAD): what servers send a client whose
 * put (stream 1) and upload (stream 5) are larger than the windows, with a get (stream 3) between.
 *
 * Recorded as h2-seeds.ts records (the embedded cache server, node:http2 and grpc-js): with room
 * for everything, and with 1 MiB of memory, where the upload is refused before it ends. That server
 * grants 1 MiB windows; a server with the default ones (65,535) and a WINDOW_UPDATE per 32 KiB read
 * is made from the first recording. Then hand-made variants of it, each probing one part of flow
 * control (RFC 9113 §6.9) or an answer that ends an upload early (§8.1), plus the generic variants of
 * h2-seeds.ts (header blocks in pieces, padding, PING, ...) with the uploads in flight.
 */
import { ErrorCode, FrameType, Setting, frame } from '../../src/cache/h2/frames';
import { startServer } from '../cache/helpers';
import { GET_KEY, H2_UPLOAD, UPLOAD_CHUNK_BYTES, startCalls, uploadFileOf } from './h2-target';
import { goaway, parse, record, settings, splitFrames, u32, variants, withClient, type Frame } from './h2-seeds';
import type { Outcome } from './harness';

const PUT = 1;
const GET = 3;
const UPLOAD = 5;
/** More than the gRPC framing adds to each payload (schema, row headers, length prefixes). */
const SLACK = 4096;

/** The recorded answers of the embedded server to the target's three calls: with room for all, then with 1 MiB of memory. */
async function recorded(): Promise<Buffer[][]> {
  const out: Buffer[][] = [];
  const upload = uploadFileOf(H2_UPLOAD.uploadBytes);
  try {
    for (const transport of ['http2', 'grpc-js'] as const) {
      for (const maxMemoryBytes of [64 << 20, 1 << 20]) {
        const { server, endpoint } = await startServer({ transport, maxMemoryBytes });
        try {
          await withClient(endpoint, (c) => c.update(GET_KEY, Buffer.from('the base of the object')));
          const calls = (client: Parameters<typeof startCalls>[0], ep: string): Promise<unknown>[] => startCalls(client, ep, H2_UPLOAD, upload.file).map((c) => c.promise);
          out.push(splitFrames(await record(endpoint, calls, { chunkBytes: UPLOAD_CHUNK_BYTES })));
        } finally {
          await server.close();
        }
      }
    }
  } finally {
    upload.remove();
  }
  return out;
}

const windowUpdate = (id: number, increment: number): Buffer => frame(FrameType.WINDOW_UPDATE, 0, id, u32(increment));
const rst = (id: number, code: number): Buffer => frame(FrameType.RST_STREAM, 0, id, u32(code));
const isWindowUpdate = (f: Frame, id?: number): boolean => f.type === FrameType.WINDOW_UPDATE && (id === undefined || f.id === id);

/** WINDOW_UPDATEs of `step` bytes, stream by stream in rounds (each round's connection one first), until each stream has `needs` bytes. */
function inSteps(step: number, needs: Record<number, number>): Buffer[] {
  const left = new Map(Object.entries(needs).map(([id, n]) => [Number(id), n]));
  const out: Buffer[] = [];
  while ([...left.values()].some((n) => n > 0)) {
    for (const [id, n] of left) {
      if (n <= 0) continue;
      out.push(windowUpdate(id, step));
      left.set(id, n - step);
    }
  }
  return out;
}

/** What each call sends at most, in DATA bytes. */
const NEED = { [PUT]: H2_UPLOAD.putBytes + SLACK, [GET]: SLACK, [UPLOAD]: H2_UPLOAD.uploadBytes + SLACK };
const NEED_CONN = NEED[PUT] + NEED[GET] + NEED[UPLOAD];

/** The answers of a recording without its SETTINGS and WINDOW_UPDATEs (the header blocks, DATA and trailers, in order). */
const answersOf = (answer: Buffer[]): Buffer[] => answer.filter((raw) => ![FrameType.SETTINGS, FrameType.WINDOW_UPDATE].includes(parse(raw).type as 4 | 8));

/** The hand-made seeds, each with the outcome the target must reach (the first refusal decides). */
function handMade(answer: Buffer[]): { what: string; frames: Buffer[]; outcome: Outcome }[] {
  const answers = answersOf(answer);
  // The recording's first frames: the server's SETTINGS (1 MiB stream windows), the connection's window, the ACK.
  const upToFirstUpdate = answer.slice(0, answer.findIndex((raw) => isWindowUpdate(parse(raw), PUT)));
  // Mid-upload: the put and the get answered, the upload has used the first 1 MiB and waits for the
  // recording's WINDOW_UPDATEs of the connection and its stream, which come from here on.
  const cut = answer.findIndex((raw) => isWindowUpdate(parse(raw)) && answer.slice(answer.indexOf(raw)).every((r) => parse(r).id === UPLOAD || isWindowUpdate(parse(r), 0)));
  const beforeUploadUpdates = (extra: Buffer[]): Buffer[] => [...answer.slice(0, cut), ...extra, ...answer.slice(cut)];
  const uploadAnswer = answers.filter((raw) => parse(raw).id === UPLOAD);
  const uploadUpdates = answer.slice(cut).filter((raw) => !uploadAnswer.includes(raw));
  return [
    {
      what: 'a server with the default windows, a WINDOW_UPDATE per 32 KiB',
      frames: [settings([]), frame(FrameType.SETTINGS, 1, 0), ...inSteps(32768, { 0: NEED_CONN - 65535, [PUT]: NEED[PUT] - 65535, [UPLOAD]: NEED[UPLOAD] - 65535 }), ...answers],
      outcome: 'accepted',
    },
    { what: 'no window at all: SETTINGS_INITIAL_WINDOW_SIZE 0 and nothing else (the calls end when the server closes)', frames: [settings([[Setting.INITIAL_WINDOW_SIZE, 0]])], outcome: 'refused' },
    {
      what: 'no window granted past the first 65,535 bytes, the answers all the same (each call answered before its request ended)',
      frames: [settings([]), ...answers],
      outcome: 'accepted',
    },
    {
      what: 'SETTINGS_INITIAL_WINDOW_SIZE 0 (the put has sent 65,535: its window goes negative), then updates of 64 KiB',
      frames: [settings([[Setting.INITIAL_WINDOW_SIZE, 0]]), ...inSteps(65536, { 0: NEED_CONN - 65535, [PUT]: NEED[PUT], [GET]: NEED[GET], [UPLOAD]: NEED[UPLOAD] }), ...answers],
      outcome: 'accepted',
    },
    {
      what: 'mid-upload, SETTINGS_INITIAL_WINDOW_SIZE shrinks to 16 KiB (the upload window far below 0), then updates bring it back',
      frames: beforeUploadUpdates([settings([[Setting.INITIAL_WINDOW_SIZE, 16384]]), ...inSteps(262144, { [UPLOAD]: (1 << 20) - 16384 })]),
      outcome: 'accepted',
    },
    {
      what: 'mid-upload, SETTINGS_INITIAL_WINDOW_SIZE grows to 2^31-1 after an update of 2^30: the upload window overflows (connection FLOW_CONTROL_ERROR)',
      frames: beforeUploadUpdates([windowUpdate(UPLOAD, 2 ** 30), settings([[Setting.INITIAL_WINDOW_SIZE, 0x7fffffff]])]),
      outcome: 'refused',
    },
    { what: 'an update overflowing the upload stream window (a stream error: the upload fails, the others end)', frames: beforeUploadUpdates([windowUpdate(UPLOAD, 0x7fffffff)]), outcome: 'refused' },
    { what: 'an update overflowing the connection window mid-upload (a connection error)', frames: beforeUploadUpdates([windowUpdate(0, 0x7fffffff)]), outcome: 'refused' },
    { what: 'a WINDOW_UPDATE of 0 on the upload stream mid-upload (a stream error)', frames: beforeUploadUpdates([windowUpdate(UPLOAD, 0)]), outcome: 'refused' },
    { what: 'a WINDOW_UPDATE of 0 on stream 0 mid-upload (a connection error)', frames: beforeUploadUpdates([windowUpdate(0, 0)]), outcome: 'refused' },
    {
      what: "the upload's whole answer before its window is given, then RST_STREAM NO_ERROR (§8.1: the request need not end)",
      frames: [...answer.slice(0, cut), ...uploadAnswer, rst(UPLOAD, ErrorCode.NO_ERROR), ...uploadUpdates],
      outcome: 'accepted',
    },
    { what: 'RST_STREAM NO_ERROR mid-upload, no answer before it', frames: beforeUploadUpdates([rst(UPLOAD, ErrorCode.NO_ERROR)]), outcome: 'refused' },
    { what: 'RST_STREAM CANCEL mid-upload', frames: beforeUploadUpdates([rst(UPLOAD, ErrorCode.CANCEL)]), outcome: 'refused' },
    {
      what: 'RST_STREAM CANCEL of the put while its window is 0 (after SETTINGS_INITIAL_WINDOW_SIZE 0)',
      frames: [settings([[Setting.INITIAL_WINDOW_SIZE, 0]]), rst(PUT, ErrorCode.CANCEL), ...inSteps(65536, { 0: NEED_CONN, [GET]: NEED[GET], [UPLOAD]: NEED[UPLOAD] }), ...answers],
      outcome: 'refused',
    },
    { what: 'GOAWAY (last stream 5, NO_ERROR) mid-upload: the upload goes on and is answered', frames: beforeUploadUpdates([goaway(UPLOAD, ErrorCode.NO_ERROR, 'draining')]), outcome: 'accepted' },
    {
      what: 'GOAWAY (last stream 1) before the upload window is given: the get is sent again on a fresh connection, the streamed upload is not',
      frames: [...upToFirstUpdate, goaway(PUT, ErrorCode.NO_ERROR, 'draining'), ...answer.slice(upToFirstUpdate.length)],
      outcome: 'refused',
    },
    { what: 'GOAWAY PROTOCOL_ERROR (last stream 5) mid-upload, and nothing after it', frames: [...answer.slice(0, cut), goaway(UPLOAD, ErrorCode.PROTOCOL_ERROR, 'bye')], outcome: 'refused' },
    {
      what: 'SETTINGS_MAX_FRAME_SIZE 2^24-1 and 2^31-1 windows at once: the whole upload in frames as large as the client makes them',
      frames: [settings([[Setting.MAX_FRAME_SIZE, 2 ** 24 - 1], [Setting.INITIAL_WINDOW_SIZE, 0x7fffffff]]), windowUpdate(0, 0x7fffffff - 65535), ...answers],
      outcome: 'accepted',
    },
  ];
}

let cache: Promise<Buffer[][]> | undefined;

/** The h2-upload seeds: the recordings (the first `recordedCount`), the hand-made ones (with their outcomes), then h2-seeds.ts's variants. */
export async function h2UploadSeeds(): Promise<{ seeds: Buffer[][]; recordedCount: number; handMade: { what: string; outcome: Outcome }[] }> {
  cache ??= recorded();
  const answers = await cache;
  const made = handMade(answers[0]!);
  return {
    seeds: [...answers, ...made.map((m) => m.frames), ...variants(answers[0]!)],
    recordedCount: answers.length,
    handMade: made.map(({ what, outcome }) => ({ what, outcome })),
  };
}
