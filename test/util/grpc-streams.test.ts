/** grpc-timeout as the raw task and cache paths read it (src/util/grpc-streams.ts). */
import { grpcTimeoutMs } from '../../src/util/grpc-streams';

it('grpcTimeoutMs: reads each unit, refuses what is malformed, and takes a timeout longer than a timer holds as none', () => {
  expect([grpcTimeoutMs('2H'), grpcTimeoutMs('3M'), grpcTimeoutMs('4S'), grpcTimeoutMs('500m'), grpcTimeoutMs('1000u'), grpcTimeoutMs('2000000n')]).toEqual([
    7_200_000, 180_000, 4000, 500, 1, 2,
  ]);
  for (const bad of [undefined, '', '5', 'm', '123456789m', '-1S', '1.5S', '10x', ['1S']]) expect(grpcTimeoutMs(bad)).toBeUndefined();
  // The longest a Node timer holds is 2^31 - 1 ms (24.8 days); a longer one would fire after 1 ms.
  expect(grpcTimeoutMs('596H')).toBe(596 * 3_600_000);
  expect(grpcTimeoutMs('597H')).toBeUndefined();
  expect(grpcTimeoutMs('99999999H')).toBeUndefined();
  expect(grpcTimeoutMs('99999999m')).toBe(99_999_999);
});
