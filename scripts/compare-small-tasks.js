// node scripts/compare-small-tasks.js BASE_ROOT [N]: small-task (add(5,3)) round-trip latency of this
// checkout's `serve` against another built checkout's, same cache process, blocks of 200 taken in turn.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const here = path.join(__dirname, '..');
const roots = { base: path.resolve(process.argv[2]), this: here };
const n = Number(process.argv[3] ?? 2000);
const { connectInstance } = require(here + '/dist/service/protos.js');
const { encodeRunnerRequest } = require(here + '/dist/codecs/index.js');
const tmp = fs.mkdtempSync('/tmp/flmrun-cmp-');
fs.writeFileSync(`${tmp}/package.json`, JSON.stringify({ name: 'cmp', version: '1.0.0', main: 'index.js' }));
fs.writeFileSync(`${tmp}/index.js`, 'exports.add = (a, b) => a + b;\n');
const procs = [];
const waitFile = async (f) => { while (!fs.existsSync(f)) await new Promise((r) => setTimeout(r, 100)); };
(async () => {
  const cache = spawn(process.execPath, [here + '/dist/cli.js', 'cache', '--listen', '127.0.0.1:0'], { env: { ...process.env, FLAME_LOG: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(cache);
  const endpoint = await new Promise((resolve) => {
    let out = '';
    const on = (b) => { out += b; const m = /"endpoint":"(grpc:\/\/[^"]+)"/.exec(out) || /(grpc:\/\/127\.0\.0\.1:\d+)/.exec(out); if (m) resolve(m[1]); };
    cache.stdout.on('data', on); cache.stderr.on('data', on);
  });
  const input = encodeRunnerRequest({ method: 'add', args: [5, 3], kwargs: null });
  const cs = [];
  for (const [name, root] of Object.entries(roots)) {
    const sock = `${tmp}/${name}.sock`;
    procs.push(spawn(process.execPath, [root + '/dist/cli.js', 'serve', '--socket', sock, '--work-dir', tmp], { env: { ...process.env, FLAME_LOG: 'warn', FLAME_CACHE_ENDPOINT: endpoint }, stdio: 'inherit' }));
    await waitFile(sock);
    const client = connectInstance(`unix://${sock}`);
    let r;
    for (let i = 0; i < 50; i++) { try { r = await client.enter({ session_id: name, application: { name: 'cmp', url: `file://${tmp}` } }); break; } catch { await new Promise((x) => setTimeout(x, 200)); } }
    if (r.return_code !== 0) throw new Error(`${name}: enter ${r.message}`);
    cs.push({ name, client, samples: [] });
  }
  const one = async (c) => { const t = process.hrtime.bigint(); const r = await c.client.invoke({ task_id: 't', session_id: c.name, input }); if (r.return_code !== 0) throw new Error(r.message); return Number(process.hrtime.bigint() - t) / 1e6; };
  for (const c of cs) for (let i = 0; i < 300; i++) await one(c); // warm-up
  for (let round = 0; cs.some((c) => c.samples.length < n); round++) {
    for (const c of round % 2 ? [...cs].reverse() : cs) for (let i = 0; i < 200 && c.samples.length < n; i++) c.samples.push(await one(c));
  }
  const pct = (s, p) => { const v = [...s].sort((a, b) => a - b); return v[Math.min(v.length - 1, Math.floor(p * v.length))].toFixed(2); };
  for (const c of cs) console.log(`${c.name}: n=${c.samples.length} p50=${pct(c.samples, 0.5)} ms p90=${pct(c.samples, 0.9)} ms p99=${pct(c.samples, 0.99)} ms`);
  console.log(`load average: ${require('node:os').loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  for (const c of cs) { await c.client.leave(); c.client.close(); }
  for (const p of procs) p.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
})().catch((e) => { console.error(e); for (const p of procs) p.kill('SIGKILL'); process.exit(1); });
