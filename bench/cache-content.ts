/**
 * Put and get by what the object holds: section 4's objects are runs of one byte (`Buffer.alloc(n, 7)`),
 * which Flame's cache compresses to almost nothing (docs/cache-get.md). Real values are seldom so: this
 * compares our client with pyarrow's on objects of three contents, against the same server, taking turns
 * round by round (each client in a process of its own, as in section 4):
 * - runs: `n` bytes of 7, as section 4;
 * - text: JSON-like lines with pseudo-random ids and scores (ZSTD level 3 makes about a quarter of them);
 * - random: incompressible (sent as they are).
 *
 *   npm run build && node -r ./bench/register.js bench/cache-content.ts --cache-endpoint URL [--sizes 16,64] [--rounds 3] [--per-round 3] [--base DIST]
 *
 * Sizes are in MiB. Without --cache-endpoint it runs against our embedded server (`flmrun-js cache`), which
 * answers uncompressed: there content changes little. --base adds a second contender, our client from another
 * build (a dist/ directory), in the same turns: before/after figures for a change.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ClientProcess, loadAverage, pyarrow, samples, sizeLabel, type Samples } from './cache';
import { removeTempDirs, startCache, tempDir } from './procs';
import { benchPython, HELPER } from './python';
import { MiB, summarize } from './stats';

const CONTENTS = ['runs', 'text', 'random'] as const;
type Content = (typeof CONTENTS)[number];

/** JSON-like lines from a fixed-seed generator: the same bytes for every client and run. */
function text(size: number): Buffer {
  let x = 12345;
  const rnd = (): number => (x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff);
  const out = Buffer.alloc(size);
  for (let at = 0; at < size; ) {
    const line = `{"id":${rnd()},"name":"user${rnd() % 5000}","score":${(rnd() / 2 ** 31).toFixed(6)},"tags":["a","bb"]}\n`;
    at += out.write(line, at);
  }
  return out;
}

function contentFile(dir: string, content: Content, size: number): string | undefined {
  if (content === 'runs') return undefined; // Buffer.alloc(size, 7), b"\x07" * size: made by each client
  const file = path.join(dir, `${content}-${size}`);
  fs.writeFileSync(file, content === 'text' ? text(size) : crypto.randomBytes(size));
  return file;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'cache-endpoint': { type: 'string' },
      sizes: { type: 'string', default: '16,64' },
      rounds: { type: 'string', default: '3' },
      'per-round': { type: 'string', default: '3' },
      base: { type: 'string' },
    },
  });
  const sizes = values.sizes.split(',').map((s) => Number(s) * MiB);
  const rounds = Number(values.rounds);
  const perRound = Number(values['per-round']);
  const python = await benchPython();
  const embedded = values['cache-endpoint'] ? undefined : await startCache();
  const endpoint = values['cache-endpoint'] ?? embedded!.endpoint;
  const dir = tempDir('content');
  const started: ClientProcess[] = [];
  const load = loadAverage();
  try {
    const ours = await ClientProcess.start(endpoint, 'http2');
    started.push(ours);
    const base = values.base ? await ClientProcess.start(endpoint, 'http2', undefined, path.resolve(values.base)) : undefined;
    if (base) started.push(base);
    // Warm-up, not counted: channels and the JIT (section 4's).
    for (const c of started) await c.run(MiB, 10, samples());
    await pyarrow(python, HELPER, endpoint, MiB, 10, samples());
    const names = ['ours', ...(base ? ['base'] : []), 'pyarrow'];
    console.log(`server ${endpoint}; ${rounds} rounds of ${perRound} put + get pairs per client; load average ${load.join(' ')} at the start (${os.cpus().length} cores)`);
    console.log('p50 ms per op: wall (CPU of the client process)');
    console.log(`size     content  op   ${names.map((n) => n.padStart(17)).join(' ')}  pyarrow/ours (>1: ours faster)`);
    for (const size of sizes) {
      for (const content of CONTENTS) {
        const file = contentFile(dir, content, size);
        const s: Record<string, Samples> = Object.fromEntries(names.map((n) => [n, samples()]));
        const turns: (() => Promise<void>)[] = [
          () => ours.run(size, perRound, s.ours!, file),
          ...(base ? [() => base.run(size, perRound, s.base!, file)] : []),
          () => pyarrow(python, HELPER, endpoint, size, perRound, s.pyarrow!, file),
        ];
        // The order rotates round by round.
        for (let r = 0; r < rounds; r++) for (let i = 0; i < turns.length; i++) await turns[(i + r) % turns.length]!();
        for (const op of ['put', 'get'] as const) {
          const p50 = (n: string, k: keyof Samples): number => summarize(s[n]![k]).p50 * 1000;
          const cells = names.map((n) => `${p50(n, op).toFixed(1)} (${p50(n, `${op}Cpu`).toFixed(1)})`.padStart(17));
          console.log(`${sizeLabel(size).padEnd(7)}  ${content.padEnd(7)}  ${op}  ${cells.join(' ')}  ${(p50('pyarrow', op) / p50('ours', op)).toFixed(2).padStart(6)}x`);
        }
        if (file) fs.rmSync(file);
      }
    }
    console.log(`load average at the end: ${loadAverage().join(' ')}`);
    await ours.delete('bench/*');
  } finally {
    await Promise.all(started.map((c) => c.close()));
    await embedded?.stop();
    removeTempDirs();
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
