/** `flmrun-js invoke` and `flmrun-js get`: drive a running instance by hand. */
import { randomUUID } from 'node:crypto';
import { parseArgs, inspect } from 'node:util';
import { describeThrown, invalidInput } from '../errors';
import { encodeObjectRef } from '../wire/object-ref';
import type { RunnerContext } from '../codecs';
import { Driver, parseRefArgument } from './driver';
import { instanceTarget } from './target';
import { CacheClient } from '../cache/client';
import { decodeValue } from '../codecs';

export function show(value: unknown): string {
  return inspect(value, { depth: 8, maxArrayLength: 32, maxStringLength: 256, breakLength: 100 });
}

function parseJson<T>(text: string | undefined, what: string, fallback: T): T {
  if (text === undefined) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw invalidInput(`${what} is not valid JSON: ${err instanceof Error ? err.message : describeThrown(err)}`);
  }
}

export async function runInvoke(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      socket: { type: 'string' },
      target: { type: 'string' },
      app: { type: 'string', default: 'flmrun-js-cli' },
      session: { type: 'string' },
      url: { type: 'string' },
      context: { type: 'string' },
      method: { type: 'string' },
      args: { type: 'string' },
      kwargs: { type: 'string' },
      repeat: { type: 'string', default: '1' },
    },
  });
  const target = instanceTarget(values, env, 'invoke');
  const args = parseJson<unknown[]>(values.args, '--args', []);
  if (!Array.isArray(args)) throw invalidInput('--args must be a JSON array');
  const kwargs = parseJson<Record<string, unknown> | null>(values.kwargs, '--kwargs', null);
  const ctx = parseJson<Record<string, unknown> | undefined>(values.context, '--context', undefined);
  const context: Partial<RunnerContext> | undefined = ctx && {
    module: ctx.module as string | undefined,
    export: ctx.export as string | undefined,
    initArgs: (ctx.init_args ?? ctx.initArgs) as unknown[] | undefined,
    stateful: Boolean(ctx.stateful),
  };
  const repeat = Math.max(1, Number(values.repeat) || 1);

  const driver = new Driver(target, values.session ?? randomUUID());
  try {
    await driver.enter(values.app!, { url: values.url, context });
    for (let i = 0; i < repeat; i++) {
      const { ref, value } = await driver.run({ method: values.method ?? null, args, kwargs });
      process.stdout.write(`ref:   ${JSON.stringify(ref)}\n       ${encodeObjectRef(ref).toString('hex')}\n`);
      process.stdout.write(`value: ${show(value)}\n`);
    }
    await driver.leave();
  } finally {
    driver.close();
  }
  return 0;
}

export async function runGet(argv: string[], _env: NodeJS.ProcessEnv): Promise<number> {
  const [text] = argv;
  if (!text) throw invalidInput('get needs an ObjectRef: hex or base64 BSON, or JSON {"endpoint","key","version"}');
  const ref = parseRefArgument(text);
  const client = new CacheClient({});
  try {
    const value = decodeValue(await client.get(ref));
    process.stdout.write(`${show(value)}\n`);
  } finally {
    client.close();
  }
  return 0;
}
