/**
 * The library entry points (runner supervisor, cache client and server, package
 * options) refuse what the CLI refuses: whole numbers only, the unit in the message.
 */
import { SessionSupervisor } from '../../src/runner/supervisor';
import { CacheClient } from '../../src/cache/client';
import { CacheServer } from '../../src/cache/server/cache-server';
import { resolvePackageOptions } from '../../src/packages/options';
import { ErrorCode, isFlmError } from '../../src/errors';

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (isFlmError(err) && err.code === ErrorCode.InvalidInput) return err.message;
    throw err;
  }
  throw new Error('not refused');
}

const spec = { sessionId: 's', appName: 'a', workDir: '/nonexistent' };

describe('whole numbers outside the CLI', () => {
  it.each([
    [{ refConcurrency: 2.5 }, 'refConcurrency must be a whole number >= 1, got 2.5'],
    [{ refConcurrency: 0 }, 'refConcurrency must be a whole number >= 1, got 0'],
    [{ taskTimeoutMs: 1.5 }, 'taskTimeoutMs must be a whole number from 0 to 2147483647 (milliseconds), got 1.5'],
    [{ workerHeapMb: 64.5 }, 'workerHeapMb must be a whole number >= 0 (megabytes), got 64.5'],
    [{ cacheKeepaliveMs: 1.5 }, 'cacheKeepaliveMs must be a whole number from 0 to 2147483647 (milliseconds), got 1.5'],
    [{ cacheDeadlineMs: 2 ** 31 }, 'cacheDeadlineMs must be a whole number from 1 to 2147483647 (milliseconds), got 2147483648'],
    [{ taskTimeoutMs: 2 ** 31 }, 'taskTimeoutMs must be a whole number from 0 to 2147483647 (milliseconds), got 2147483648'],
    [{ startTimeoutMs: 2 ** 31 }, 'startTimeoutMs must be a whole number from 0 to 2147483647 (milliseconds), got 2147483648'],
  ])('the runner supervisor refuses %j before starting a process', async (opts, message) => {
    await expect(SessionSupervisor.start(spec, { cacheEndpoint: 'grpc://127.0.0.1:1', ...opts })).rejects.toThrow(message);
  });

  it('the cache client and server', () => {
    expect(refusal(() => new CacheClient({ deadlineMs: 0.5 }))).toBe('cache client option deadlineMs must be a whole number from 1 to 2147483647 (milliseconds), got 0.5');
    // Timers: refused above Node's longest (not clamped); small keepalives are the library's to choose.
    for (const key of ['deadlineMs', 'transferDeadlineMs', 'keepaliveMs', 'keepaliveTimeoutMs']) {
      expect(refusal(() => new CacheClient({ [key]: 2 ** 31 }))).toMatch(new RegExp(`^cache client option ${key} must be a whole number from [01] to 2147483647 \\(milliseconds\\), got 2147483648$`));
    }
    new CacheClient({ keepaliveMs: 1, keepaliveTimeoutMs: 1, deadlineMs: 2 ** 31 - 1 }).close();
    expect(refusal(() => new CacheClient({ chunkBytes: 0 }))).toBe('cache client option chunkBytes must be a whole number >= 1 (bytes), got 0');
    expect(refusal(() => new CacheServer({ maxMemoryBytes: 1e3 + 0.5 }))).toBe('cache maxMemoryBytes must be a whole number >= 1 (bytes), got 1000.5');
  });

  it('package options', () => {
    expect(refusal(() => resolvePackageOptions({ workDir: '/tmp', httpTotalTimeoutMs: 2.5 }))).toBe(
      'PackageOptions.httpTotalTimeoutMs must be a whole number from 1 to 2147483647 (milliseconds), got 2.5',
    );
    expect(refusal(() => resolvePackageOptions({ workDir: '/tmp', extractTimeoutMs: 2 ** 31 }))).toBe(
      'PackageOptions.extractTimeoutMs must be a whole number from 1 to 2147483647 (milliseconds), got 2147483648',
    );
    expect(refusal(() => resolvePackageOptions({ workDir: '/tmp', maxRedirects: -1 }))).toBe('PackageOptions.maxRedirects must be a whole number >= 0, got -1');
    expect(resolvePackageOptions({ workDir: '/tmp' }).maxRedirects).toBe(5);
  });
});
