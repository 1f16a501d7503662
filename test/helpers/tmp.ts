/** Temporary directories that tests create and always remove. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function makeTempDir(prefix = 'flmrun-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** A fresh Unix socket path in its own temp dir (short enough for sun_path). */
export function tempSocketPath(): { dir: string; socket: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flm-'));
  return { dir, socket: path.join(dir, 'i.sock') };
}
