// backlog.test.mjs — POST /api/v1/backlog refuses a bad chunk naming the record to blame
// ("record": index and id), and the agent sets that record aside in backlog.rejected.jsonl
// and uploads the rest, instead of retrying the chunk for ever.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { scenario } from './lib/scenario.mjs';
import { request, adminJson } from './lib/http.mjs';
import { waitFor } from './lib/wait.mjs';

const rec = (id, time, extra = '') => `{"kind":"metric","id":"${id}","time":"${time}","ok":false${extra}}`;

function backlog(srv, body) {
  return request(srv.url + '/api/v1/backlog', {
    method: 'POST',
    headers: { Authorization: `Bearer ${srv.apiKey}`, 'Content-Type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

scenario('backlog: a refused chunk names the record (index and id) and stores nothing', async (ctx) => {
  const srv = await ctx.server();
  const body = `{"name":"bk-1","records":[${rec('m-1', '2026-11-21T10:00:00.000Z')},${rec('m-2', '2026-02-30T10:00:00Z')}]}`;
  const res = await backlog(srv, body);
  assert.equal(res.status, 400);
  assert.deepEqual(res.json, {
    error: 'records[1].time: expected an ISO 8601 time with a zone ("2026-11-21T10:00:00.123Z") from 2000 to 2099, got "2026-02-30T10:00:00Z"',
    field: 'records[1].time',
    record: { index: 1, id: 'm-2' },
  });
  const stored = await adminJson(srv, '/admin/api/diagnostics?worker=bk-1');
  assert.deepEqual(stored.diagnostics, []);
  // The same chunk without the bad record is taken.
  const ok = await backlog(srv, `{"name":"bk-1","records":[${rec('m-1', '2026-11-21T10:00:00.000Z')}]}`);
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.json, { stored: 1, duplicates: 0 });
});

scenario('agent: a record the server refuses is set aside with its reason, and the rest is uploaded in order', async (ctx) => {
  const srv = await ctx.server();
  const dataDir = ctx.tmpdir('faultline-agent-');
  const logs = path.join(dataDir, 'logs');
  fs.mkdirSync(logs, { recursive: true, mode: 0o700 });
  const lines = [
    rec('m-1', '2026-11-21T10:00:00.000Z'),
    rec('m-2', '2026-02-30T10:00:00.000Z'), // no such day
    rec('m-3', '2026-11-21T10:00:02.000Z'),
    rec('m-4', '2026-11-21T10:00:03.000Z', ',"ok":true'), // "ok" twice
    rec('m-5', '2026-11-21T10:00:04.000Z'),
  ];
  fs.writeFileSync(path.join(logs, 'backlog.jsonl'), lines.join('\n') + '\n');
  const agent = ctx.agent('bk-agent', { server: srv, env: { DATA_DIR: dataDir } });

  const rejectedFile = path.join(logs, 'backlog.rejected.jsonl');
  await waitFor(() => fs.statSync(path.join(logs, 'backlog.jsonl')).size === 0, 20000, {
    message: () => `backlog emptied; agent stderr:\n${agent.stderr.slice(-2000)}`,
  });
  const stored = await adminJson(srv, '/admin/api/diagnostics?worker=bk-agent&limit=10');
  assert.deepEqual(stored.diagnostics.map((d) => d.record_id), ['m-5', 'm-3', 'm-1']);

  const rejected = fs.readFileSync(rejectedFile, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rejected.map((r) => r.record.id), ['m-2', 'm-4']);
  assert.equal(rejected[0].error,
    'records[0].time: expected an ISO 8601 time with a zone ("2026-11-21T10:00:00.123Z") from 2000 to 2099, got "2026-02-30T10:00:00.000Z"');
  assert.equal(rejected[1].error, 'records[0].ok: member given twice');
  assert.deepEqual(rejected[0].record, JSON.parse(lines[1]));
  for (const r of rejected) assert.match(r.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

  assert.match(agent.stderr, /agent: backlog: the server refused record m-2 \(records\[0\]\.time: expected an ISO 8601 time with a zone .*\); set aside in backlog\.rejected\.jsonl, 1 since start/);
  assert.match(agent.stderr, /agent: backlog: the server refused record m-4 \(records\[0\]\.ok: member given twice\); set aside in backlog\.rejected\.jsonl, 2 since start/);
  assert.doesNotMatch(agent.stderr, /backlog upload failed/);
  assert.equal(fs.readFileSync(path.join(logs, 'backlog.offset'), 'utf8').trim(), '0');
});
