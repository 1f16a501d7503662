/**
 * Fuzzing the object cache's decoders in process (issue 6, item 3): object
 * keys, FlightData protobuf, Arrow IPC messages (headers, compressed bodies),
 * whole DoPut streams through the server's PutReceiver and DoGet answers
 * through the client's AnswerReader. The same streams also go to a live server
 * in cache-server.test.ts.
 */
import { checkSync, fuzzInWorker, itReplaysCorpusInWorker, testTimeoutMs } from './harness';
import { toFrames } from './mutate';
import { seeds } from './seeds';
import { answerStreams, putStreams } from './stream-seeds';
import { TARGETS, type TargetName } from './targets';

const SHORT_RUNS = 3000;

const KEYS = ['app/ssn/obj', 'app/ssn', 'app/*', 'a-b_c.d/s1/o.bin', 'x/y/z:12', 'ünï/cødé/☃'].map((k) => Buffer.from(k));

const byteCases: [TargetName, () => Promise<Buffer[]> | Buffer[]][] = [
  ['object-key', () => KEYS],
  ['flight-data', async () => [...(await putStreams()).flat(), ...answerStreams().flat()]],
  ['ipc-messages', () => seeds('ipc', 'put-ipc', 'answer-ipc')],
];
const streamCases: [TargetName, () => Promise<Buffer[][]> | Buffer[][]][] = [
  ['put-stream', putStreams],
  ['answer-stream', answerStreams],
];

describe.each([...byteCases.map((c) => [...c, 'bytes'] as const), ...streamCases.map((c) => [...c, 'frames'] as const)])(
  'fuzz %s',
  (name, seedsOf, mode) => {
    itReplaysCorpusInWorker(name);

    it('decodes its seeds', async () => {
      const s = await seedsOf();
      const inputs = mode === 'bytes' ? (s as Buffer[]) : (s as Buffer[][]).map(toFrames);
      const results = inputs.map((input) => checkSync(name, input, TARGETS[name]));
      expect(results.filter((r) => r === 'accepted').length).toBeGreaterThan(inputs.length / 2);
    });

    it('survives random and mutated inputs', async () => {
      const stats = await fuzzInWorker(name, mode, await seedsOf(), SHORT_RUNS);
      expect(stats.failures).toBe(0);
      expect(stats.refused).toBeGreaterThan(0);
    }, testTimeoutMs(SHORT_RUNS));
  },
);
