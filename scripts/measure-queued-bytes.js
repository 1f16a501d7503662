// node scripts/measure-queued-bytes.js [ROOT]  (ROOT: a built flmrun-js checkout, default this one): 16 clients x 40 MiB task input while a task runs; serve's RSS and peak.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const root = require('node:path').resolve(process.argv[2] ?? require('node:path').join(__dirname, '..'));
const { connectInstance } = require(root + '/dist/service/protos.js');
const { encodeRunnerRequest } = require(root + '/dist/codecs/index.js');
// The user package: one method that waits for a file, one that returns its input's length.
const app = fs.mkdtempSync('/tmp/flmrun-rss-app-');
fs.writeFileSync(`${app}/package.json`, JSON.stringify({ name: 'rssapp', version: '1.0.0', main: 'index.js' }));
fs.writeFileSync(`${app}/index.js`, "const fs = require('node:fs');\nexports.waitForFile = async (f) => { while (!fs.existsSync(f)) await new Promise((r) => setTimeout(r, 20)); return 'released'; };\nexports.size = (b) => b.length;\n");
const sock = `/tmp/rss-e-${process.pid}.sock`, release = `/tmp/rss-e-${process.pid}.release`;
const mem = (pid) => { const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8'); const g = (k) => Math.round(Number(new RegExp(k + ':\\s+(\\d+)').exec(s)[1]) / 1024); return { rss: g('VmRSS'), peak: g('VmHWM') }; };
(async () => {
  const p = spawn(process.execPath, [root + '/dist/cli.js', 'serve', '--socket', sock, '--work-dir', '/tmp'], { env: { ...process.env, FLAME_LOG: 'error', FLAME_CACHE_ENDPOINT: '' }, stdio: 'inherit' });
  while (!fs.existsSync(sock)) await new Promise((r) => setTimeout(r, 100));
  const c = connectInstance(`unix://${sock}`);
  console.log('enter', (await c.enter({ session_id: 's', application: { name: 'a', url: `file://${app}` } })).return_code);
  const before = mem(p.pid);
  const blocker = c.invoke({ task_id: 'b', session_id: 's', input: encodeRunnerRequest({ method: 'waitForFile', args: [release], kwargs: null }) });
  await new Promise((r) => setTimeout(r, 2000));
  const input = encodeRunnerRequest({ method: 'size', args: [Buffer.alloc(40 * 1024 * 1024, 1)], kwargs: null });
  const clients = Array.from({ length: 16 }, () => connectInstance(`unix://${sock}`));
  const calls = clients.map((cl, i) => cl.invoke({ task_id: `c${i}`, session_id: 's', input }));
  await new Promise((r) => setTimeout(r, 15000));
  const during = mem(p.pid);
  fs.writeFileSync(release, '');
  const res = await Promise.all(calls.map((x) => x.catch((e) => ({ return_code: 'err ' + e.code }))));
  await blocker;
  const codes = {}; for (const r of res) codes[r.return_code] = (codes[r.return_code] || 0) + 1;
  const early = res.filter((r) => /before its input was read/.test(r.message ?? "")).length;
  console.log(JSON.stringify({ root, before, during, after: mem(p.pid), codes, refusedBeforeReading: early }));
  clients.forEach((cl) => cl.close()); c.close(); p.kill('SIGTERM'); fs.rmSync(release, { force: true }); fs.rmSync(app, { recursive: true, force: true });
})();
