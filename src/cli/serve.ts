/** `flmrun-js serve`: run the Instance service until SIGTERM/SIGINT. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ServeOptions } from '../config';
import type { Logger } from '../log';
import { startInstance } from '../service/server';
import { onShutdownSignal } from './signals';
import { runDemo } from './demo';

export function demoSocketPath(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'flmrun-demo-')), 'instance.sock');
}

export async function runServe(opts: ServeOptions, logger: Logger, demo: boolean): Promise<number> {
  const instance = await startInstance(opts, logger);
  const stopped = onShutdownSignal();
  if (demo) {
    try {
      await runDemo(instance, process.stdout);
      process.stdout.write(`\nflmrun-js keeps serving on ${opts.socketPath ?? opts.listen}; Ctrl-C stops it.\n`);
    } catch (err) {
      logger.error({ err }, 'the demo failed');
      await instance.close();
      return 1;
    }
  }
  const signal = await stopped;
  logger.info({ signal }, 'signal received');
  await instance.close();
  // The demo's private socket directory goes with it.
  const dir = opts.socketPath && path.dirname(opts.socketPath);
  if (demo && dir && path.basename(dir).startsWith('flmrun-demo-')) fs.rmSync(dir, { recursive: true, force: true });
  return 0;
}
