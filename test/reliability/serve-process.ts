/**
 * `flmrun-js serve` in a child process (from dist/: run `npm run build`
 * first), with every byte it writes to stdout and stderr kept, so that a test
 * can check the instance survived and grep what it logged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { connectInstance, type InstanceClient } from '../../src/service/protos';
import { makeTempDir, removeDir, tempSocketPath } from '../helpers/tmp';
import { CLI } from './helpers';

export interface ServeProcess {
  client: InstanceClient;
  workDir: string;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** True while the process runs. */
  alive(): boolean;
  /** SIGTERM, then waits for the exit; removes the temp dirs. */
  stop(): Promise<void>;
}

export async function startServeProcess(args: string[] = [], timeoutMs = 30_000): Promise<ServeProcess> {
  const { dir, socket } = tempSocketPath();
  const workDir = makeTempDir('flmrun-serve-');
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--socket', socket, '--work-dir', workDir, '--log-level', 'debug', ...args], {
    env: ownEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: path.dirname(workDir),
  });
  let out = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start within ${timeoutMs} ms: ${out}`)), timeoutMs);
    const check = (): void => {
      if (out.includes('flmrun-js serving')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${String(child.exitCode ?? child.signalCode)} before serving: ${out}`));
    });
  });
  const client = connectInstance(`unix://${socket}`);
  return {
    client,
    workDir,
    output: () => out,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      client.close();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      removeDir(dir);
      removeDir(workDir);
    },
  };
}

/** This process's environment without the FLAME_ variables a developer's shell may set. */
function ownEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, FLAME_LOG: 'debug' };
  delete env.FLAME_CACHE_ENDPOINT;
  delete env.FLAME_INSTANCE_ENDPOINT;
  delete env.FLAME_CA_FILE;
  return env;
}
