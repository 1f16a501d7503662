/**
 * A sandbox per test: `base/work` is the package manager's workDir, `base/in`
 * holds the archives, and everything else under `base` must stay as it was
 * (checked by listing the whole tree around the target after each refusal).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { isFlmError, type FlmError } from '../../src/errors';
import { PackageManager, type PackageOptions } from '../../src/packages';
import { makeTempDir, removeDir } from '../helpers/tmp';

export interface Sandbox {
  base: string;
  work: string;
  input: string;
  pm: PackageManager;
  /** A relative listing of everything under base except the input archives. */
  listing(): string[];
  close(): Promise<void>;
}

export function sandbox(opts: Partial<PackageOptions> = {}): Sandbox {
  const base = makeTempDir('flmrun-pkg-');
  const work = path.join(base, 'work');
  const input = path.join(base, 'in');
  fs.mkdirSync(work);
  fs.mkdirSync(input);
  fs.mkdirSync(path.join(base, 'victim'));
  fs.writeFileSync(path.join(base, 'victim', 'keep.txt'), 'keep');
  const pm = new PackageManager({ workDir: work, ...opts });
  return {
    base, work, input, pm,
    listing: () => listTree(base).filter((p) => !p.startsWith('in/') && p !== 'in'),
    close: async () => {
      await pm.close();
      removeDir(base);
    },
  };
}

export function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string): void => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      out.push(d.isSymbolicLink() ? `${r} -> ${fs.readlinkSync(path.join(dir, d.name))}` : r);
      if (d.isDirectory()) walk(path.join(dir, d.name), r);
    }
  };
  walk(root, '');
  return out.sort();
}

export const fileUrl = (p: string): string => `file://${p}`;

/** Awaits a refusal and returns the FlmError. */
export async function refusal(p: Promise<unknown>): Promise<FlmError> {
  try {
    await p;
  } catch (err) {
    if (isFlmError(err)) return err;
    throw new Error(`expected an FlmError, got ${String(err)}`, { cause: err });
  }
  throw new Error('expected a refusal, but the install succeeded');
}

export interface TestHttpServer { url: string; close(): Promise<void> }

/** A loopback HTTP server; `routes` maps a path to a handler. */
export async function httpServer(routes: Record<string, http.RequestListener>): Promise<TestHttpServer> {
  const server = http.createServer((req, res) => {
    const route = routes[(req.url ?? '').split('?')[0]!];
    if (route) route(req, res);
    else {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
