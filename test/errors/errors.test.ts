/**
 * Errors as data: one type with code, operation, a fixed summary, the detail
 * and structured fields; rendered for the client (message) and for logs
 * (toLog, no detail); carried across a thread boundary as data.
 */
import { MessageChannel } from 'node:worker_threads';
import { describeThrown, ErrorCode, FlmError, isFlmError, ReturnCode } from '../../src/errors';

const SECRET = 'the-users-own-data-4711';

describe('FlmError', () => {
  test('the constructor every module uses keeps working: code, message, cause', () => {
    const cause = new Error('root');
    const e = new FlmError(ErrorCode.InvalidInput, `bad value ${SECRET}`, { cause });
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe(ErrorCode.InvalidInput);
    expect(e.message).toBe(`bad value ${SECRET}`);
    expect(e.detail).toBe(e.message);
    expect(e.cause).toBe(cause);
    expect(e.returnCode).toBe(ReturnCode.InvalidInput);
    expect(e.summary).toBe('invalid input');
    expect(e.operation).toBeUndefined();
  });

  test('the log rendering holds code, operation, summary and fields, never the detail', () => {
    const e = new FlmError(ErrorCode.LimitExceeded, `input ${SECRET} too large`, {
      operation: 'task decode',
      summary: 'the task input is larger than the limit',
      fields: { limitBytes: 1024, option: 'maxInputBytes' },
    });
    const logged = e.toLog();
    expect(logged).toEqual({
      code: ErrorCode.LimitExceeded,
      operation: 'task decode',
      summary: 'the task input is larger than the limit',
      fields: { limitBytes: 1024, option: 'maxInputBytes' },
    });
    expect(JSON.stringify(logged)).not.toContain(SECRET);
  });

  test('toData/fromData carry every part across a MessageChannel (structured clone)', async () => {
    const e = new FlmError(ErrorCode.Unavailable, `cache get ${SECRET}`, { operation: 'cache call', fields: { grpcStatus: 'UNAVAILABLE' } });
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<unknown>((resolve) => port2.once('message', resolve));
    port1.postMessage(e.toData());
    const back = FlmError.fromData(await received);
    port1.close();
    port2.close();
    expect(isFlmError(back)).toBe(true);
    expect(back.toData()).toEqual(e.toData());
    expect(back.returnCode).toBe(ReturnCode.Unavailable);
  });

  test('fromData of anything else is an Internal error that says so', () => {
    for (const bad of [null, 42, 'text', {}, { code: 'NOPE', message: 'x' }, { code: ErrorCode.InvalidInput }]) {
      const e = FlmError.fromData(bad);
      expect(e.code).toBe(ErrorCode.Internal);
      expect(e.message).toMatch(/unknown form/);
    }
    // fields of other types than string, number and boolean are dropped, not trusted
    const e = FlmError.fromData({ code: ErrorCode.NotFound, message: 'm', summary: 's', fields: { a: 1, b: { nested: true } } });
    expect(e.fields).toEqual({ a: 1 });
  });

  test('from() converts any throwable once; context prefixes the detail and keeps the typed parts', () => {
    const inner = new FlmError(ErrorCode.LimitExceeded, 'too big', { operation: 'package fetch', fields: { limit: 5 } });
    const wrapped = FlmError.from(inner, ErrorCode.Internal, 'package x');
    expect(wrapped.message).toBe('package x: too big');
    expect(wrapped.toLog()).toEqual(inner.toLog());
    expect(FlmError.from(inner)).toBe(inner);
    const sys = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(FlmError.from(sys).code).toBe(ErrorCode.Unavailable);
    expect(FlmError.from('a string').message).toBe(describeThrown('a string'));
  });
});
