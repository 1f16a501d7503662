/**
 * Valid FlightData sequences for the stream fuzzers, each message encoded as
 * protobuf bytes: DoPut streams (opaque puts, patches, native Arrow puts,
 * ZSTD/LZ4 compressed bodies from pyarrow) and DoGet answers.
 */
import { encodeFlightData, type OutgoingFlightData } from '../../src/cache/flight-data';
import { readIpcMessages } from '../../src/wire/ipc';
import { arrowPutMessages, opaquePutMessages } from '../../src/cache/put-messages';
import { ANSWER_SCHEMA_HEADER, encodeRow } from '../../src/cache/opaque';
import { seeds } from './seeds';

type Descriptor = NonNullable<OutgoingFlightData['flight_descriptor']>;

async function collect(gen: AsyncIterable<OutgoingFlightData>): Promise<OutgoingFlightData[]> {
  const out: OutgoingFlightData[] = [];
  for await (const m of gen) out.push(m);
  return out;
}

/** An IPC stream as FlightData messages, the first one carrying `descriptor`. */
function fromIpc(ipc: Uint8Array, descriptor?: Descriptor): OutgoingFlightData[] {
  return readIpcMessages(ipc, 'seed').map((m, i) => ({
    ...(i === 0 && descriptor ? { flight_descriptor: descriptor } : {}),
    data_header: m.header,
    ...(m.bodyLength > 0 ? { data_body: m.body } : {}),
  }));
}

const encodeAll = (msgs: OutgoingFlightData[]): Buffer[] => msgs.map(encodeFlightData);

/** DoPut streams; keys are under `app` so that a server run can tell them apart. */
export async function putStreams(): Promise<Buffer[][]> {
  const path = (p: string): Descriptor => ({ type: 'PATH', path: [p] });
  const streams: OutgoingFlightData[][] = [
    await collect(opaquePutMessages(path('app/ssn'), [Buffer.from('hello world')], 4)),
    await collect(opaquePutMessages(path('app/ssn/obj'), [Buffer.alloc(300, 7)], 1 << 20)),
    await collect(opaquePutMessages(path('app/ssn/empty'), [], 16)),
    await collect(opaquePutMessages({ type: 'CMD', cmd: Buffer.from('PATCH:app/ssn/obj') }, [Buffer.from('delta')], 1 << 20)),
  ];
  for (const ipc of seeds('put-ipc')) streams.push(fromIpc(ipc, path('app/ssn/put')));
  for (const ipc of seeds('ipc').filter((b) => b.subarray(0, 6).toString('latin1') !== 'ARROW1')) {
    streams.push(arrowPutMessages(path('app/ssn/table'), ipc));
  }
  return streams.map(encodeAll);
}

/** DoGet answers as a server sends them. */
export function answerStreams(): Buffer[][] {
  const row = (version: number, kind: string, data: string): OutgoingFlightData => {
    const r = encodeRow(version, kind, [Buffer.from(data)]);
    return { data_header: r.header, data_body: r.body };
  };
  const streams: OutgoingFlightData[][] = [
    [{ data_header: ANSWER_SCHEMA_HEADER }, row(1, 'base', 'base bytes'), row(2, 'patch', 'p2'), row(3, 'patch', 'p3')],
    [{ data_header: ANSWER_SCHEMA_HEADER }, row(4, 'patch', 'only a patch')],
    [{ data_header: ANSWER_SCHEMA_HEADER }],
  ];
  for (const ipc of [...seeds('answer-ipc'), ...seeds('put-ipc'), ...seeds('ipc')]) streams.push(fromIpc(ipc));
  return streams.map(encodeAll);
}
