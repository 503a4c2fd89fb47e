// cli.test.mjs — the command line: --help, --version, unknown commands, and configuration
// errors (exit status 2 with a message naming the setting, the value and what was expected).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { scenario } from './lib/scenario.mjs';
import { adminJson, heartbeat, hb } from './lib/http.mjs';

scenario('faultline --version prints "faultline X.Y.Z"', async (ctx) => {
  const r = await ctx.run(['--version']);
  assert.equal(r.code, 0, `exit status (stderr: ${r.stderr})`);
  assert.match(r.stdout.trim(), /^faultline \d+\.\d+\.\d+$/);
});

const HELP_CASES = [
  { args: ['--help'], expect: [/server/, /agent/, /telegram/] },
  { args: ['server', '--help'], expect: [/API_KEY/, /FAIL_TIMEOUT/, /SERVER_PORT/] },
  { args: ['agent', '--help'], expect: [/SERVER_ADDR/, /PING_INTERVAL/] },
  { args: ['telegram', '--help'], expect: [/chat-id/] },
];
for (const c of HELP_CASES) {
  scenario(`faultline ${c.args.join(' ')} exits 0 with usage on stdout`, async (ctx) => {
    // No settings at all: --help must not need API_KEY, nor start anything.
    const r = await ctx.run(c.args, { timeoutMs: 5000 });
    assert.equal(r.timedOut, false, 'still running 5 s after --help');
    assert.equal(r.code, 0, `exit status (stderr: ${r.stderr})`);
    assert.match(r.stdout, /usage/i);
    for (const re of c.expect) assert.match(r.stdout, re);
  });
}

scenario('an unknown command exits 2 and says so', async (ctx) => {
  const r = await ctx.run(['frobnicate']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /frobnicate/);
});

// Bad settings: [env, setting named, value quoted, expected-phrase]. API_KEY is set unless the
// case removes it, so that only the setting under test is wrong.
const CONFIG_ERRORS = [
  { env: { FAIL_TIMEOUT: 'abc' }, name: 'FAIL_TIMEOUT', value: 'abc', expected: /expected a positive number of seconds/ },
  { env: { FAIL_TIMEOUT: '0' }, name: 'FAIL_TIMEOUT', value: '0', expected: /expected a positive number of seconds/ },
  { env: { FAIL_TIMEOUT: '-3' }, name: 'FAIL_TIMEOUT', value: '-3', expected: /expected a positive number of seconds/ },
  { env: { FAIL_TIMEOUT: '1.5s' }, name: 'FAIL_TIMEOUT', value: '1.5s', expected: /expected a positive number of seconds/ },
  { env: { SERVER_PORT: '70000' }, name: 'SERVER_PORT', value: '70000', expected: /expected .*port/ },
  { env: { SERVER_PORT: 'http' }, name: 'SERVER_PORT', value: 'http', expected: /expected .*port/ },
  { env: { LISTEN_ADDR: 'not an address' }, name: 'LISTEN_ADDR', value: 'not an address', expected: /expected/ },
  { env: { TELEGRAM_API_URL: 'ftp://127.0.0.1/' }, name: 'TELEGRAM_API_URL', value: 'ftp://127.0.0.1/', expected: /expected .*URL/i },
  { env: { LOG_LEVEL: 'loud' }, name: 'LOG_LEVEL', value: 'loud', expected: /expected/ },
  { env: { CHAT_ID: 'general' }, name: 'CHAT_ID', value: 'general', expected: /expected/ },
  { env: { API_KEY: null }, name: 'API_KEY', value: null, expected: /API_KEY/ },
  { env: { STORE: 'sqlite://' }, name: 'STORE', value: 'sqlite://', expected: /STORE: expected sqlite:\/\/PATH, got "sqlite:\/\/"/ },
  { env: { STORE: 'faultline.db' }, name: 'STORE', value: 'faultline.db', expected: /STORE: expected BACKEND:\/\/LOCATION/ },
  { env: { STORE: 'postgres://db/faultline' }, name: 'STORE', value: null, expected: /STORE: unknown backend "postgres" \(known: sqlite\)/, what: 'STORE with an unknown backend' },
  { env: { RCA_WINDOW: '0' }, name: 'RCA_WINDOW', value: '0', expected: /RCA_WINDOW: expected a positive number of seconds, got "0"/ },
  { env: { RCA_THRESHOLD: '0' }, name: 'RCA_THRESHOLD', value: '0', expected: /RCA_THRESHOLD: expected a whole number from 1 to 1000000, got "0"/ },
  { env: { RCA_THRESHOLD: '1000001' }, name: 'RCA_THRESHOLD', value: '1000001', expected: /RCA_THRESHOLD: expected a whole number from 1 to 1000000/ },
  { env: { RCA_HOLD: '-1' }, name: 'RCA_HOLD', value: '-1', expected: /RCA_HOLD: expected a positive number of seconds/ },
  { env: { RCA_CANARY_INTERVAL: 'x' }, name: 'RCA_CANARY_INTERVAL', value: 'x', expected: /RCA_CANARY_INTERVAL: expected a positive number of seconds/ },
  { env: { RCA_CANARIES: 'bad/host' }, name: 'RCA_CANARIES', value: 'bad/host', expected: /RCA_CANARIES: expected a comma-separated list of at most 16 host or host:port entries/ },
  // Half a Telegram set-up is a configuration error, not a silent "no alerts".
  { env: { TELEGRAM_TOKEN: '123:abc' }, name: 'CHAT_ID', value: null, expected: /TELEGRAM_TOKEN/, what: 'TELEGRAM_TOKEN without CHAT_ID' },
  { env: { CHAT_ID: '-100123' }, name: 'TELEGRAM_TOKEN', value: null, expected: /CHAT_ID/, what: 'CHAT_ID without TELEGRAM_TOKEN' },
];

for (const c of CONFIG_ERRORS) {
  const what = c.what ?? (c.value === null ? `${c.name} missing` : `${c.name}=${JSON.stringify(c.value)}`);
  scenario(`server with ${what} exits 2 naming ${c.name}`, async (ctx) => {
    const r = await ctx.run(['server'], {
      env: { API_KEY: 'k', LISTEN_ADDR: '127.0.0.1', SERVER_PORT: '0', DATA_DIR: 'data', ...c.env },
      timeoutMs: 5000,
    });
    assert.equal(r.timedOut, false, `server kept running with ${what}; stderr:\n${r.stderr}`);
    assert.equal(r.code, 2, `exit status; stderr:\n${r.stderr}`);
    assert.ok(r.stderr.includes(c.name), `stderr names ${c.name}: ${r.stderr}`);
    if (c.value !== null) assert.ok(r.stderr.includes(`"${c.value}"`), `stderr quotes the value "${c.value}": ${r.stderr}`);
    assert.match(r.stderr, c.expected);
  });
}

const AGENT_CONFIG_ERRORS = [
  { env: { PING_INTERVAL: 'often' }, name: 'PING_INTERVAL', value: 'often', expected: /expected a positive number of seconds/ },
  { env: { SERVER_PORT: '0' }, name: 'SERVER_PORT', value: '0', expected: /expected .*port/ },
  { env: { API_KEY: null }, name: 'API_KEY', value: null, expected: /API_KEY/ },
  { env: { DIAG_INTERVAL: '0' }, name: 'DIAG_INTERVAL', value: '0', expected: /DIAG_INTERVAL: expected a positive number of seconds/ },
  { env: { DIAG_TARGETS: 'bad/host' }, name: 'DIAG_TARGETS', value: 'bad/host', expected: /DIAG_TARGETS: expected a comma-separated list of at most 16 host or host:port entries \("gateway" allowed\), or none/ },
  { env: { DIAG_GATEWAY: 'a b' }, name: 'DIAG_GATEWAY', value: 'a b', expected: /DIAG_GATEWAY: expected a host name or IP address/ },
  { env: { DIAG_PING_COUNT: '0' }, name: 'DIAG_PING_COUNT', value: '0', expected: /DIAG_PING_COUNT: expected a whole number from 1 to 1000000/ },
  { env: { DIAG_MTR_ROUNDS: '1.5' }, name: 'DIAG_MTR_ROUNDS', value: '1.5', expected: /DIAG_MTR_ROUNDS: expected a whole number from 1 to 1000000/ },
  { env: { DIAG_MTR_MAX_HOPS: '1000001' }, name: 'DIAG_MTR_MAX_HOPS', value: '1000001', expected: /DIAG_MTR_MAX_HOPS: expected a whole number from 1 to 1000000/ },
  { env: { LOG_MAX_MB: '0' }, name: 'LOG_MAX_MB', value: '0', expected: /LOG_MAX_MB: expected a whole number from 1 to 1000000, got "0"/ },
  { env: { LOG_MAX_MB: '1000001' }, name: 'LOG_MAX_MB', value: '1000001', expected: /LOG_MAX_MB: expected a whole number from 1 to 1000000/ },
];
for (const c of AGENT_CONFIG_ERRORS) {
  const what = c.value === null ? `${c.name} missing` : `${c.name}=${JSON.stringify(c.value)}`;
  scenario(`agent with ${what} exits 2 naming ${c.name}`, async (ctx) => {
    // Port 9 (discard): closed here, and never reached, since the agent stops at its settings.
    const r = await ctx.run(['agent', 'cfg-box'], {
      env: { API_KEY: 'k', SERVER_ADDR: '127.0.0.1', SERVER_PORT: '9', PING_INTERVAL: '0.3', ...c.env },
      timeoutMs: 5000,
    });
    assert.equal(r.timedOut, false, `agent kept running with ${what}; stderr:\n${r.stderr}`);
    assert.equal(r.code, 2, `exit status; stderr:\n${r.stderr}`);
    assert.ok(r.stderr.includes(c.name), `stderr names ${c.name}: ${r.stderr}`);
    if (c.value !== null) assert.ok(r.stderr.includes(`"${c.value}"`), `stderr quotes the value: ${r.stderr}`);
    assert.match(r.stderr, c.expected);
  });
}

scenario('a bad value in .env of the working directory exits 2 naming it', async (ctx) => {
  const dir = ctx.tmpdir();
  fs.writeFileSync(path.join(dir, '.env'), 'API_KEY=from-dotenv\nFAIL_TIMEOUT=xyz\n');
  const r = await ctx.run(['server'], { cwd: dir, env: { LISTEN_ADDR: '127.0.0.1', SERVER_PORT: '0' }, timeoutMs: 5000 });
  assert.equal(r.timedOut, false, `server kept running; stderr:\n${r.stderr}`);
  assert.equal(r.code, 2, `exit status; stderr:\n${r.stderr}`);
  assert.match(r.stderr, /FAIL_TIMEOUT/);
  assert.match(r.stderr, /"xyz"/);
});

scenario('.env in the working directory is read, and the environment overrides it', async (ctx) => {
  const dir = ctx.tmpdir();
  fs.mkdirSync(path.join(dir, 'data'));
  fs.writeFileSync(path.join(dir, '.env'), '# settings\nAPI_KEY=from-dotenv\nexport FAIL_TIMEOUT=30\n');
  // 1. API_KEY only in .env: the server starts and takes that key.
  const s1 = await ctx.server({ cwd: dir, env: { API_KEY: null } });
  assert.equal((await heartbeat(s1, hb('dotenv-a'), { key: 'from-dotenv' })).status, 204);
  assert.equal((await heartbeat(s1, hb('dotenv-a'), { key: 'other' })).status, 401);
  await s1.stop();
  // 2. API_KEY in both: the environment wins.
  const s2 = await ctx.server({ cwd: dir, env: { API_KEY: 'from-env' } });
  assert.equal((await heartbeat(s2, hb('dotenv-b'), { key: 'from-env' })).status, 204);
  assert.equal((await heartbeat(s2, hb('dotenv-b'), { key: 'from-dotenv' })).status, 401);
});

scenario('--config FILE is read, and the environment overrides it', async (ctx) => {
  const dir = ctx.tmpdir();
  const yaml = path.join(dir, 'faultline.yaml');
  fs.writeFileSync(yaml, '# settings\napi_key: from-yaml\nfail_timeout: 30\nadmin_pass: ~\n');
  // 1. API_KEY only in the file: the server takes it. ADMIN_PASS: ~ leaves admin off.
  const s1 = await ctx.server({ cwd: dir, args: ['--config', yaml], env: { API_KEY: null, ADMIN_PASS: null, FAIL_TIMEOUT: null } });
  assert.equal((await heartbeat(s1, hb('yaml-a'), { key: 'from-yaml' })).status, 204);
  assert.equal((await heartbeat(s1, hb('yaml-a'), { key: 'other' })).status, 401);
  assert.match(s1.stderr, /FAIL_TIMEOUT 30\.0s/);
  await s1.stop();
  // 2. API_KEY in both: the environment wins over the file.
  const s2 = await ctx.server({ cwd: dir, args: ['--config', yaml], env: { API_KEY: 'from-env' } });
  assert.equal((await heartbeat(s2, hb('yaml-b'), { key: 'from-env' })).status, 204);
  assert.equal((await heartbeat(s2, hb('yaml-b'), { key: 'from-yaml' })).status, 401);
});

scenario('an unknown key in the --config file exits 2 naming the key and the line', async (ctx) => {
  const dir = ctx.tmpdir();
  const yaml = path.join(dir, 'faultline.yaml');
  fs.writeFileSync(yaml, 'api_key: k\nfail_timout: 30\n');
  const r = await ctx.run(['server', '--config', yaml], { cwd: dir, timeoutMs: 5000 });
  assert.equal(r.timedOut, false, `server kept running; stderr:\n${r.stderr}`);
  assert.equal(r.code, 2, `exit status; stderr:\n${r.stderr}`);
  assert.match(r.stderr, /line 2: fail_timout: not a faultline setting/);
});

scenario('a section no module reads yet is refused with its file, line and column', async (ctx) => {
  const dir = ctx.tmpdir();
  fs.writeFileSync(path.join(dir, 'faultline.yaml'), 'api_key: k\nchecks:\n  - name: ops\n');
  const r = await ctx.run(['server', '--config', 'faultline.yaml'], { cwd: dir, timeoutMs: 5000 });
  assert.equal(r.timedOut, false, `server kept running; stderr:\n${r.stderr}`);
  assert.equal(r.code, 2, `exit status; stderr:\n${r.stderr}`);
  assert.match(r.stderr, /faultline\.yaml:2:1: checks: not supported by this version of faultline/);
});

scenario('a wrong channels: entry exits 2 naming file, line, column and the field', async (ctx) => {
  const dir = ctx.tmpdir();
  fs.writeFileSync(path.join(dir, 'faultline.yaml'), 'api_key: k\nchannels:\n  - name: ops\n    type: fax\n');
  const r = await ctx.run(['server', '--config', 'faultline.yaml'], { cwd: dir, timeoutMs: 5000 });
  assert.equal(r.timedOut, false, `server kept running; stderr:\n${r.stderr}`);
  assert.equal(r.code, 2, `exit status; stderr:\n${r.stderr}`);
  assert.match(r.stderr, /faultline\.yaml:4:11: channels\[0\]\.type: expected one of telegram[a-z, ]*, got "fax"/);
});

scenario('STORE puts the database where it says, and the server keeps it across a restart', async (ctx) => {
  const dir = ctx.tmpdir();
  const db = path.join(dir, 'elsewhere', 'fleet.db');
  const s1 = await ctx.server({ env: { STORE: `sqlite://${db}` } });
  // A first heartbeat is answered once its event is committed.
  assert.equal((await heartbeat(s1, hb('stored-elsewhere'))).status, 204);
  assert.ok(fs.existsSync(db), `${db} exists`);
  assert.ok(fs.existsSync(path.join(dir, 'elsewhere', 'fleet.lock')), 'the lock sits beside the database');
  assert.equal(fs.existsSync(path.join(s1.dataDir, 'faultline.db')), false, 'nothing in DATA_DIR');
  await s1.kill9();
  const s2 = await ctx.restart(s1);
  const body = await adminJson(s2, '/admin/api/events?worker=stored-elsewhere');
  assert.equal(body.events.length, 1);
  assert.equal(body.events[0].kind, 'up');
});

scenario('a second server on the same DATA_DIR refuses to start and the first keeps serving', async (ctx) => {
  const first = await ctx.server();
  const r = await ctx.run(['server'], {
    env: { API_KEY: 'k', LISTEN_ADDR: '127.0.0.1', SERVER_PORT: '0', DATA_DIR: first.dataDir },
    timeoutMs: 5000,
  });
  assert.equal(r.timedOut, false, `second server kept running; stderr:\n${r.stderr}`);
  assert.equal(r.code, 1, `exit status; stderr:\n${r.stderr}`);
  assert.match(r.stderr, /is in use by another faultline server/);
  assert.equal((await heartbeat(first, hb('still-served'))).status, 204);
});
