import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeUserError, syntaxErrorLocation, userFrames } from '../../src/runner/user-stack';

const root = '/srv/app';
const runnerFile = path.resolve(__dirname, '../../src/runner/session-runtime.ts');

describe('user stack frames', () => {
  it('keeps user frames relative to the package root and drops runner and node frames', () => {
    const stack = [
      'TypeError: x.map is not a function',
      '    at add (/srv/app/lib/math.js:3:9)',
      `    at Object.call (${runnerFile}:10:5)`,
      `    at ${pathToFileURL('/srv/app/esm/index.js').href}:4:2`,
      '    at new Promise (<anonymous>)',
      '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
      '    at async helper (/other/place/x.js:1:1)',
      '    at Object.fail (/srv/app/index.js:34:15)',
      '    at async Object.go (/srv/app/index.js:40:1)',
    ].join('\n');
    expect(userFrames(stack, root)).toEqual([
      'add (lib/math.js:3:9)',
      'esm/index.js:4:2',
      'async helper (/other/place/x.js:1:1)',
      'fail (index.js:34:15)',
      'async go (index.js:40:1)',
    ]);
  });

  it('formats Class: message then frames, and a cause', () => {
    const err = new TypeError('x.map is not a function', { cause: new Error('inner') });
    err.stack = 'TypeError: x.map is not a function\n    at add (/srv/app/lib/math.js:3:9)';
    if (err.cause instanceof Error) err.cause.stack = 'Error: inner\n    at deep (/srv/app/deep.js:1:1)';
    expect(describeUserError(err, root)).toBe(
      'TypeError: x.map is not a function\n    at add (lib/math.js:3:9)\nCaused by: Error: inner\n    at deep (deep.js:1:1)',
    );
  });

  it('formats an error from another realm (as a worker reports it)', () => {
    const foreign = { name: 'RangeError', message: 'bad', stack: 'RangeError: bad\n    at async /srv/app/x.js:1:2' };
    expect(describeUserError(foreign, root)).toBe('RangeError: bad\n    at async x.js:1:2');
  });

  it('reports a thrown non-Error by its type and string form', () => {
    expect(describeUserError('boom', root)).toBe('thrown string: boom');
    expect(describeUserError({ code: 7 }, root)).toBe('thrown Object: {"code":7}');
  });

  it('finds where a syntax error is', () => {
    const err = new SyntaxError('Unexpected token');
    err.stack = '/srv/app/broken/syntax.js:1\nfunction oops( {\n\nSyntaxError: Unexpected token';
    expect(syntaxErrorLocation(err, root)).toBe('broken/syntax.js:1');
  });
});

describe('empty rejections (issue 12, point 6)', () => {
  it.each([
    [undefined, 'rejected with undefined'],
    [null, 'rejected with null'],
    ['', 'rejected with an empty string'],
  ])('Promise.reject(%p) gets a message', async (reason, message) => {
    const err: unknown = await Promise.reject(reason).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    expect(describeUserError(err, '/nowhere')).toBe(message);
  });

  it('an Error with an empty message says so', () => {
    expect(describeUserError(new TypeError(''), '/nowhere').split('\n')[0]).toBe('TypeError (with an empty message)');
  });
});
