// fake-ingest.mjs — a stand-in for the faultline server's heartbeat endpoint, to watch what an
// agent sends. Records every heartbeat request in `requests`; answers `status` (204 by default).
// stop()/listen() let a test take it away and bring it back on the same port.
//
// It also takes POST /api/v1/backlog (docs/rca.md): each request goes to `backlogRequests`
// (never to `requests`), its records are kept once per id in `backlogRecords` (in order of first
// arrival; a repeated id counts as a duplicate, as the real server does), and it answers
// 200 {"stored":N,"duplicates":M}. failBacklog(...modes) queues answers for the next backlog
// requests, one mode each: a number is that HTTP status (nothing stored), 'hangup' stores the
// records and then drops the connection without an answer (a lost answer). setBacklogStatus(s)
// answers s to every backlog request from then on (200 again to accept).
//
// POST /api/v1/metrics/NAME (docs/api.md) goes to `metricsRequests` (never to `requests`), its
// `text` ungzipped when it came with Content-Encoding: gzip (`bytes` is what was sent); it is
// answered 200 {"accepted":N,"refused":[],"series":N} with N the sample lines of the body, or
// what setMetricsAnswer(status, body) set.
//
// POST /api/v1/reports/NAME (the agent's report, docs/report.md) goes to `reportRequests` (never
// to `requests`) and is answered 200 {"worker":NAME,"received":ISO}. A GET (the report's check of
// a server on the agent's own machine, GET / on SERVER_PORT) goes to `getRequests` and is
// answered 404.
import http from 'node:http';
import zlib from 'node:zlib';
import { waitFor } from './wait.mjs';

export async function fakeIngest({ status = 204, port = 0 } = {}) {
  const requests = [];
  const backlogRequests = [];
  const backlogRecords = [];
  const backlogIds = new Set();
  const backlogModes = [];
  const sockets = new Set();
  const metricsRequests = [];
  const reportRequests = [];
  const getRequests = [];
  const state = { status, backlogStatus: 200, metricsAnswer: null };

  function storeBacklog(json) {
    let stored = 0;
    let duplicates = 0;
    for (const r of json?.records ?? []) {
      if (backlogIds.has(r.id)) {
        duplicates++;
        continue;
      }
      backlogIds.add(r.id);
      backlogRecords.push(r);
      stored++;
    }
    return { stored, duplicates };
  }

  function answerJson(res, code, value) {
    const b = JSON.stringify(value);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
    res.end(b);
  }

  function backlogHandler(req, res, entry) {
    backlogRequests.push(entry);
    const mode = backlogModes.length ? backlogModes.shift() : state.backlogStatus;
    entry.answer = mode;
    if (mode === 'hangup') {
      storeBacklog(entry.json);
      req.socket.destroy();
    } else if (mode === 200) {
      if (!entry.json || !Array.isArray(entry.json.records)) return answerJson(res, 400, { error: 'bad body', field: 'records' });
      answerJson(res, 200, storeBacklog(entry.json));
    } else {
      answerJson(res, mode, { error: 'fake says no' });
    }
  }
  function metricsHandler(res, entry) {
    metricsRequests.push(entry);
    if (state.metricsAnswer) return answerJson(res, state.metricsAnswer.status, state.metricsAnswer.body);
    const n = entry.text.split('\n').filter((l) => l && !l.startsWith('#')).length;
    answerJson(res, 200, { accepted: n, refused: [], series: n });
  }
  let server;

  function handler(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const gzip = req.headers['content-encoding'] === 'gzip';
      let text;
      try {
        text = (gzip ? zlib.gunzipSync(raw) : raw).toString('utf8');
      } catch {
        text = '';
      }
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const entry = { time: Date.now(), method: req.method, path: req.url, headers: req.headers, text, json, bytes: raw.length };
      if (req.method === 'POST' && req.url === '/api/v1/backlog') return backlogHandler(req, res, entry);
      if (req.method === 'POST' && req.url.startsWith('/api/v1/metrics/')) return metricsHandler(res, entry);
      if (req.method === 'GET') {
        getRequests.push(entry);
        return answerJson(res, 404, { error: 'not found' });
      }
      if (req.method === 'POST' && req.url.startsWith('/api/v1/reports/')) {
        reportRequests.push(entry);
        return answerJson(res, 200, { worker: req.url.slice('/api/v1/reports/'.length), received: new Date().toISOString() });
      }
      requests.push(entry);
      if (state.status === 204) {
        res.writeHead(204);
        res.end();
      } else {
        const b = JSON.stringify({ error: 'fake says no' });
        res.writeHead(state.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
        res.end(b);
      }
    });
  }

  async function listen() {
    server = http.createServer(handler);
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    port = server.address().port;
  }

  async function stop() {
    if (!server) return;
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    await new Promise((resolve) => s.close(() => resolve()));
  }

  await listen();
  return {
    get port() {
      return port;
    },
    requests,
    backlogRequests,
    backlogRecords,
    metricsRequests,
    reportRequests,
    getRequests,
    setMetricsAnswer(status, body) {
      state.metricsAnswer = { status, body };
    },
    setStatus(s) {
      state.status = s;
    },
    setBacklogStatus(s) {
      state.backlogStatus = s;
    },
    failBacklog(...modes) {
      backlogModes.push(...modes);
    },
    listen,
    stop,
    close: stop,
    waitForRequests(n, timeoutMs = 5000) {
      return waitFor(() => requests.length >= n && requests, timeoutMs, {
        message: () => `${n} heartbeat request(s) at the fake server (got ${requests.length})`,
      });
    },
    waitForMetrics(n, timeoutMs = 5000) {
      return waitFor(() => metricsRequests.length >= n && metricsRequests, timeoutMs, {
        message: () => `${n} metrics push(es) at the fake server (got ${metricsRequests.length})`,
      });
    },
  };
}
