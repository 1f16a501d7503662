/**
 * `flmrun-js serve --demo`: runs the bundled TypeScript example package (examples/hello-ts, what `flmrun-js init` writes)
 * through the live service exactly as Flame would, and prints every result as
 * read back from the object cache.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomUUID } from 'node:crypto';
import type { RunningInstance } from '../service/server';
import { Driver, type TaskSpec } from './driver';
import { show } from './invoke';

export const EXAMPLE_DIR = path.join(__dirname, '..', '..', 'examples', 'hello-ts');

export async function runDemo(instance: RunningInstance, out: NodeJS.WritableStream): Promise<void> {
  const target = instance.socketPath ? `unix://${instance.socketPath}` : `127.0.0.1:${instance.tcpPort}`;
  const url = pathToFileURL(EXAMPLE_DIR).href;
  out.write(`flmrun-js demo: instance ${target}, object cache ${instance.cacheEndpoint}\npackage ${url}\n\n`);

  // No context: the default export (class Counter) is instantiated; named exports are methods too.
  const tasks: TaskSpec[] = [
    { method: 'greet', args: ['Flame'], kwargs: { excited: true } },
    { method: 'combine', args: [[1, 2, 3]], kwargs: { mode: 'product', times: 2 } },
    { method: 'stamp', args: [] },
  ];
  await session(target, url, undefined, tasks, out);
  out.write('\n-- stateful (context export "default", init_args [10], stateful) --\n');
  await session(target, url, { export: 'default', initArgs: [10], stateful: true }, [
    { method: 'increment', args: [] },
    { method: 'increment', args: [5] },
    { method: 'combine', args: [[4, 5]] },
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
