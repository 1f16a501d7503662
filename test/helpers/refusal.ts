/** What a synchronous call refused with: its FlmError's code and message (anything else is rethrown). */
import { isFlmError, type ErrorCode } from '../../src/errors';

export function refusalOf(call: () => unknown, what = 'the call'): { code: ErrorCode; message: string } {
  try {
    call();
  } catch (err) {
    if (!isFlmError(err)) throw err;
    return { code: err.code, message: err.message };
  }
  throw new Error(`expected ${what} to be refused`);
}
