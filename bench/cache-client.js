// Our cache client in a process of its own for bench/cache.ts (section 4), as pyarrow's runs in the helper's Python
// process and as a Flame task's runs in its session process. Plain JavaScript on the build (dist/), so that the
// process holds what a session process holds and not the bench's own modules (the TypeScript compiler that
// bench/register.js loads made the orchestrator's heap 34 MB, and each collection the 64 MiB operations start cost
// it 4-8 ms more). argv: endpoint, transport ('http2' | 'grpc-js'), and optionally the build to load (default: dist/,
// bench/cache-content.ts's --base). Messages from the parent:
//   { id, op: 'run', size, n [, file] }  -> { id, put, get, putCpu, getCpu }: n put + get pairs of `size` bytes
//     (Buffer.alloc(size, 7), or the bytes of `file`), seconds each
//   { id, op: 'delete', pattern } -> { id }
// Errors are answered as { id, error }. The process ends when the parent disconnects.
const fs = require('node:fs');
const path = require('node:path');

const [endpoint, transport, dist = path.join(__dirname, '..', 'dist')] = process.argv.slice(2);
const { CacheClient } = require(path.join(path.resolve(dist), 'cache', 'client'));
const client = new CacheClient({ endpoint, lruEntries: 0, deadlineMs: 600_000, transport });

const since = (t) => Number(process.hrtime.bigint() - t) / 1e9;
const cpuSince = (c) => {
  const d = process.cpuUsage(c);
  return (d.user + d.system) / 1e6;
};

async function run(size, n, file) {
  const payload = file ? fs.readFileSync(file) : Buffer.alloc(size, 7); // made for each turn, as before this ran in a process of its own
  const s = { put: [], get: [], putCpu: [], getCpu: [] };
  for (let i = 0; i < n; i++) {
    let c = process.cpuUsage();
    let t = process.hrtime.bigint();
    const ref = await client.put('bench/ours', payload);
    s.put.push(since(t));
    s.putCpu.push(cpuSince(c));
    c = process.cpuUsage();
    t = process.hrtime.bigint();
    await client.get({ ...ref, version: 0 });
    s.get.push(since(t));
    s.getCpu.push(cpuSince(c));
  }
  await client.delete('bench/*');
  return s;
}

process.on('message', (m) => {
  const work = m.op === 'run' ? run(m.size, m.n, m.file) : m.op === 'delete' ? client.delete(m.pattern).then(() => ({})) : Promise.reject(new Error(`unknown op ${m.op}`));
  work.then(
    (r) => process.send({ id: m.id, ...r }),
    (err) => process.send({ id: m.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
process.on('disconnect', () => {
  client.close();
  process.exit(0);
});
process.send({ ready: true });
