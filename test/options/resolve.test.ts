/** Options of `serve` and `cache`: one parse for flags and environment, one validation for every value. */
import { parseArgs } from 'node:util';
import { DEFAULTS, fromEnv, resolveServeOptions } from '../../src/config';
import { CACHE_OPTIONS } from '../../src/options/cache';
import { fromFlags, parseArgsConfig, resolveOptions } from '../../src/options/resolve';
import { SERVE_OPTIONS } from '../../src/options/serve';
import type { IntOption, OptionSpec } from '../../src/options/spec';
import { knownLevel, parseWholeNumber } from '../../src/options/values';
import { isFlmError } from '../../src/errors';

function serveFlags(...args: string[]) {
  const { values } = parseArgs({ args, strict: true, options: parseArgsConfig(SERVE_OPTIONS) });
  return resolveServeOptions({ socketPath: '/tmp/x.sock', ...fromFlags(SERVE_OPTIONS, values) }, '/work');
}

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (isFlmError(err)) return err.message;
    throw err;
  }
  throw new Error('not refused');
}

describe('log levels', () => {
  it.each([
    ['trace', 'trace'], ['debug', 'debug'], ['info', 'info'], ['warn', 'warn'], ['warning', 'warn'], ['WARNING', 'warn'],
    [' Error ', 'error'], ['fatal', 'fatal'], ['silent', 'silent'],
  ])('--log-level %s is %s', (text, level) => {
    expect(serveFlags('--log-level', text).logLevel).toBe(level);
  });

  it('an unknown --log-level is refused, naming the choices', () => {
    expect(refusal(() => serveFlags('--log-level', 'verbose'))).toMatch(/--log-level must be one of trace, debug, info, warn, error, fatal, silent.*"verbose"/);
  });

  it('FLAME_LOG is read in Rust filter syntax: its global level, info when it has none', () => {
    expect(fromEnv({ FLAME_LOG: 'warning' }).logLevel).toBe('warn');
    expect(fromEnv({ FLAME_LOG: 'debug,h2=info' }).logLevel).toBe('debug');
    expect(fromEnv({ FLAME_LOG: 'flame=debug' }).logLevel).toBe('info');
    expect(knownLevel('nope')).toBeUndefined();
  });

  it('a level set by code is validated too', () => {
    expect(refusal(() => resolveServeOptions({ socketPath: '/tmp/x.sock', logLevel: 'loud' as never }))).toMatch(/--log-level/);
  });
});

describe('whole numbers', () => {
  const INT_FLAGS = (SERVE_OPTIONS as readonly OptionSpec[]).filter((o): o is IntOption => o.kind === 'int');

  it.each(INT_FLAGS.map((o) => [o.flag, o] as const))('--%s refuses floats, signs, exponents and text alike', (flag, o) => {
    const range = o.max === undefined ? `>= ${o.min}` : `from ${o.min} to ${o.max}`;
    const words = `--${flag} must be ${o.zeroOff ? '0 \\(off\\) or ' : ''}a whole number ${range}`;
    for (const bad of ['1.5', '-1', '1e3', '0x10', 'ten', '']) {
      expect(refusal(() => serveFlags(`--${flag}=${bad}`))).toMatch(new RegExp(words));
    }
    expect(serveFlags(`--${flag}`, String(o.min + 7))).toMatchObject({});
  });

  it('timer flags stop at 2^31-1 ms (Node runs a longer timer after 1 ms); the cache keepalive is 0 (off) or at least 1 s', () => {
    expect(refusal(() => serveFlags('--cache-deadline-ms', '2147483648'))).toBe(
      '--cache-deadline-ms must be a whole number from 1 to 2147483647 (milliseconds), got "2147483648"',
    );
    expect(serveFlags('--cache-deadline-ms', '2147483647')).toMatchObject({ cacheDeadlineMs: 2147483647 });
    for (const bad of ['1', '999', '2147483648']) {
      expect(refusal(() => serveFlags('--cache-keepalive-ms', bad))).toBe(
        `--cache-keepalive-ms must be 0 (off) or a whole number from 1000 to 2147483647 (milliseconds), got "${bad}"`,
      );
    }
    expect(serveFlags('--cache-keepalive-ms', '0')).toMatchObject({ cacheKeepaliveMs: 0 });
    expect(serveFlags('--cache-keepalive-ms', '1000')).toMatchObject({ cacheKeepaliveMs: 1000 });
    expect(refusal(() => resolveServeOptions({ socketPath: '/tmp/x.sock', cacheKeepaliveMs: 50 }))).toMatch(/--cache-keepalive-ms must be 0 \(off\) or/);
    // Every other timer flag too: serve's task timeout and shutdown grace, the cache's idle timeout.
    for (const flag of ['task-timeout-ms', 'shutdown-grace-ms']) {
      expect(refusal(() => serveFlags(`--${flag}`, '2147483648'))).toMatch(new RegExp(`^--${flag} must be a whole number from 0 to 2147483647 \\(milliseconds\\)`));
      expect(serveFlags(`--${flag}`, '2147483647')).toMatchObject({});
    }
    const { values } = parseArgs({ args: ['--idle-timeout-ms', '2147483648'], strict: true, options: parseArgsConfig(CACHE_OPTIONS) });
    expect(refusal(() => resolveOptions(CACHE_OPTIONS, fromFlags(CACHE_OPTIONS, values)))).toMatch(/^--idle-timeout-ms must be a whole number from 1 to 2147483647/);
  });

  it('values set by code go through the same check', () => {
    expect(refusal(() => resolveServeOptions({ socketPath: '/tmp/x.sock', refConcurrency: 2.5 }))).toBe(
      '--ref-concurrency must be a whole number >= 1, got 2.5',
    );
    expect(refusal(() => resolveServeOptions({ socketPath: '/tmp/x.sock', refConcurrency: 0 }))).toMatch(/>= 1/);
    expect(refusal(() => resolveServeOptions({ socketPath: '/tmp/x.sock', cacheDeadlineMs: 1.5 }))).toBe(
      '--cache-deadline-ms must be a whole number from 1 to 2147483647 (milliseconds), got 1.5',
    );
  });

  it('the message names the unit', () => {
    expect(refusal(() => parseWholeNumber('x', '--worker-heap-mb', 'MB', 0))).toMatch(/\(megabytes\)/);
    expect(refusal(() => parseWholeNumber('x', '--cache-max-memory', 'bytes', 0))).toMatch(/\(bytes\)/);
  });
});

describe('serve', () => {
  it('fills the defaults declared in the table', () => {
    const o = serveFlags();
    expect(o).toMatchObject({ ...DEFAULTS, workDir: '/work' });
    expect(DEFAULTS).toMatchObject({ refConcurrency: 8, cacheDeadlineMs: 30_000, shutdownGraceMs: 30_000, embeddedCacheMaxMemoryBytes: 1 << 30 });
  });

  it('flags win over the environment', () => {
    const { values } = parseArgs({ args: ['--cache', 'grpc://flag:1'], strict: true, options: parseArgsConfig(SERVE_OPTIONS) });
    const o = resolveServeOptions({ ...fromEnv({ FLAME_CACHE_ENDPOINT: 'grpc://env:1', FLAME_INSTANCE_ENDPOINT: 'unix:///run/a.sock' }), ...fromFlags(SERVE_OPTIONS, values) });
    expect(o.cacheEndpoint).toBe('grpc://flag:1');
    expect(o.socketPath).toBe('/run/a.sock');
  });

  it('paths are resolved against the working directory', () => {
    const o = resolveServeOptions({ socketPath: 'unix:rel.sock', workDir: 'wd' }, '/base');
    expect(o).toMatchObject({ socketPath: '/base/rel.sock', workDir: '/base/wd' });
  });

  it('cross-option rules stay', () => {
    expect(refusal(() => resolveServeOptions({}))).toMatch(/nothing to listen on/);
    expect(refusal(() => serveFlags('--tls-cert', 'c.pem'))).toMatch(/--tls-cert and --tls-key go together/);
    expect(refusal(() => serveFlags('--listen', 'nowhere'))).toMatch(/--listen must be HOST:PORT/);
  });
});

describe('cache', () => {
  it('defaults and validation come from its table', () => {
    const { values } = parseArgs({ args: ['--max-memory', '1024'], strict: true, options: parseArgsConfig(CACHE_OPTIONS) });
    expect(resolveOptions(CACHE_OPTIONS, fromFlags(CACHE_OPTIONS, values))).toEqual({ listen: '127.0.0.1:9090', maxMemoryBytes: 1024, idleTimeoutMs: 60_000 });
    expect(refusal(() => fromFlags(CACHE_OPTIONS, { 'max-memory': '1.5' }))).toMatch(/--max-memory must be a whole number >= 1 \(bytes\)/);
  });
});
