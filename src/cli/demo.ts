/**
 * `flmrun-js serve --demo`: runs the bundled example package (examples/hello)
 * through the live service exactly as Flame would, and prints every result as
 * read back from the object cache.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import type { RunningInstance } from '../service/server';
import { Driver, type TaskSpec } from './driver';
import { show } from './invoke';

export const EXAMPLE_DIR = path.join(__dirname, '..', '..', 'examples', 'hello');

export async function runDemo(instance: RunningInstance, out: NodeJS.WritableStream): Promise<void> {
  const target = instance.socketPath ? `unix://${instance.socketPath}` : `127.0.0.1:${instance.tcpPort}`;
  const url = pathToFileURL(EXAMPLE_DIR).href;
  out.write(`flmrun-js demo: instance ${target}, object cache ${instance.cacheEndpoint}\npackage ${url}\n\n`);

  const tasks: TaskSpec[] = [
    { method: 'add', args: [5, 3] },
    { method: 'greet', args: ['Flame'], kwargs: { excited: true } },
    { method: 'bytes', args: [16] },
    { method: 'stats', args: [[3, 1, 4, 1, 5]] },
  ];
  await session(target, url, undefined, tasks, out);
  out.write('\n-- a stateful class (context export "Counter", init_args [10]) --\n');
  await session(target, url, { export: 'Counter', initArgs: [10], stateful: true }, [
    { method: 'increment', args: [] },
    { method: 'increment', args: [5] },
    { method: 'value', args: [] },
  ], out);
}

async function session(
  target: string,
  url: string,
  context: { export: string; initArgs: unknown[]; stateful: boolean } | undefined,
  tasks: TaskSpec[],
  out: NodeJS.WritableStream,
): Promise<void> {
  const driver = new Driver(target, `demo-${randomUUID().slice(0, 8)}`);
  try {
    await driver.enter('flmrun-demo', { url, context });
    for (const t of tasks) {
      const { ref, value } = await driver.run(t);
      const call = `${t.method}(${(t.args ?? []).map((a) => show(a)).join(', ')}${t.kwargs ? `, ${show(t.kwargs)}` : ''})`;
      out.write(`${call.padEnd(34)} -> ${show(value)}\n${''.padEnd(34)}    ref ${ref.key} v${ref.version}\n`);
    }
    await driver.leave();
  } finally {
    driver.close();
  }
}
