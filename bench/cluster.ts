/**
 * Section 1c (`--flame-endpoint`): the small task as a flamepy client sees it
 * through a live Flame cluster (its session manager, its executor manager,
 * its object cache), flmrun-js against Flame's Python runner. The cluster is
 * the user's: this registers two applications on it, whose commands are this
 * checkout's build and the bench venv's Python, so its executor manager must
 * run on this machine. bench/py/helper.py `cluster` drives the sessions.
 *
 * A fresh instance is measured from its first tasks: V8 compiles and
 * optimizes the task path while it serves, so the first hundreds of tasks of
 * an instance cost more than later ones; blocks of tasks in order show that
 * curve, and the opening table reads the first block and the late ones apart.
 */
import path from 'node:path';
import { APP } from './contenders';
import { writeBenchPackage } from './fixture';
import { CLI, run, tempDir } from './procs';
import { summarize, type Summary } from './stats';

export interface ClusterRunner {
  name: 'flmrun-js' | 'python-runner';
  /** One summary per block of tasks, in the order the session ran them. */
  blocks: Summary[];
  /** The first block: the first tasks after the session's first (untimed) task. */
  first: Summary;
  /** The later half of the blocks (from block lateBlock(B), 0-based). */
  late: Summary;
}

export interface ClusterResult {
  flameEndpoint: string;
  cacheEndpoint: string;
  blockSize: number;
  runners: ClusterRunner[];
}

/** The first block (0-based) of the late half of `blocks` blocks: the report's late figure and its task numbers both read it. */
export function lateBlock(blocks: number): number {
  return Math.floor(blocks / 2);
}

export async function benchCluster(python: string, helper: string, flameEndpoint: string, cacheEndpoint: string, quick: boolean): Promise<ClusterResult> {
  const work = tempDir('cluster');
  const pkg = writeBenchPackage(path.join(work, 'bench-package'));
  const suffix = String(process.pid);
  // Flame starts each application's command with FLAME_INSTANCE_ENDPOINT, FLAME_CACHE_ENDPOINT and FLAME_LOG (its own
  // RUST_LOG): both runners get the same. No --keep-extracted and no flags: serve as the README registers it.
  const apps = [
    {
      label: 'flmrun-js',
      app: `${APP}-js-${suffix}`,
      kind: 'js',
      attrs: { command: process.execPath, arguments: [CLI, 'serve'], url: `file://${pkg}`, working_directory: path.join(work, 'js') },
    },
    {
      label: 'python-runner',
      app: `${APP}-py-${suffix}`,
      kind: 'py',
      attrs: { command: python, arguments: ['-m', 'flamepy.runner.runpy'], working_directory: path.join(work, 'py') },
    },
  ];
  const blocks = quick ? 4 : 16;
  const blockSize = quick ? 100 : 150;
  const out = await run(python, [helper, 'cluster', JSON.stringify({ apps, blocks, n: blockSize })], {
    FLAME_ENDPOINT: flameEndpoint,
    FLAME_CACHE_ENDPOINT: cacheEndpoint,
    // No ~/.flame/flame.yaml of the user's may point the client elsewhere.
    HOME: tempDir('cluster-home'),
  });
  const samples = JSON.parse(out.trim().split('\n').pop()!) as Record<ClusterRunner['name'], number[][]>;
  const runners = (['flmrun-js', 'python-runner'] as const).map((name): ClusterRunner => {
    const b = samples[name];
    return { name, blocks: b.map((x) => summarize(x)), first: summarize(b[0]!), late: summarize(b.slice(lateBlock(b.length)).flat()) };
  });
  return { flameEndpoint, cacheEndpoint, blockSize, runners };
}
