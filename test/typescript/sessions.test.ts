/**
 * Many TypeScript sessions in one process, one worker thread after another,
 * each compiling cold (its own working directory): SWC's native addon must
 * never be loaded in a worker thread (it crashes the process when loaded
 * again after such a thread ends), so this process surviving is the test.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BSON } from 'bson';
import { SessionSupervisor } from '../../src/runner/supervisor';
import { Harness } from '../runner/harness';
import { makeTempDir, removeDir } from '../helpers/tmp';

const EXAMPLE = path.resolve(__dirname, '../../examples/hello-ts');

it('enters, runs and leaves a cold TypeScript session four times in one process', async () => {
  const base = makeTempDir('flmrun-ts-sessions-');
  const h = await new Harness().start();
  try {
    const pkg = path.join(base, 'pkg');
    fs.cpSync(path.join(EXAMPLE, 'src'), path.join(pkg, 'src'), { recursive: true });
    fs.copyFileSync(path.join(EXAMPLE, 'package.json'), path.join(pkg, 'package.json'));
    for (let i = 0; i < 4; i++) {
      const workDir = fs.mkdtempSync(path.join(base, 'work-'));
      const w = await SessionSupervisor.start(
        { sessionId: `s${i}`, appName: 'ts', workDir, packageRoot: pkg, commonData: Buffer.from(BSON.serialize({ init_args: [i] })) },
        { cacheEndpoint: h.endpoint },
      );
      try {
        expect(await h.run(w, 'increment', [1])).toBe(i + 1);
        expect(await h.run(w, 'combine', [[2, 3]], { mode: 'product' })).toBe(6);
      } finally {
        await w.close('test end');
      }
      expect(fs.readdirSync(path.join(workDir, '.flmrun-typescript-cache')).length).toBeGreaterThan(0);
    }
  } finally {
    await h.stop();
    removeDir(base);
  }
});
