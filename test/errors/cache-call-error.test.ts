/**
 * A cache call's error names the call once, carries the gRPC status as a
 * field, and is recognised as a cache call's error by its operation (a typed
 * field), not by the text it starts with.
 */
import { CacheClient } from '../../src/cache/client';
import { ErrorCode, isFlmError } from '../../src/errors';
import { freePort } from '../helpers/ports';

test('an unreachable cache: Unavailable, named once, with its status as a field', async () => {
  const endpoint = `grpc://127.0.0.1:${await freePort() /* released: nothing listens there */}`;
  const client = new CacheClient({ endpoint, retries: 0, deadlineMs: 10_000 });
  try {
    const err: unknown = await client.get({ endpoint, key: 'app/ssn/k', version: 0 }).then(() => undefined, (e: unknown) => e);
    if (!isFlmError(err)) throw new Error(`expected an FlmError, got ${String(err)}`);
    expect(err.code).toBe(ErrorCode.Unavailable);
    expect(err.operation).toBe('cache call');
    expect(err.message.startsWith(`cache get app/ssn/k at ${endpoint}: `)).toBe(true);
    expect(err.message.split('cache get').length).toBe(2);
    expect(err.fields).toMatchObject({ grpcStatus: 'UNAVAILABLE' });
    expect(JSON.stringify(err.toLog())).not.toContain('app/ssn/k');
  } finally {
    client.close();
  }
});
