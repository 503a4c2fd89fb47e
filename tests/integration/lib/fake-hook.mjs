// fake-hook.mjs — a stand-in for a service that takes alerts over HTTP (a Slack incoming
// webhook, PagerDuty's Events API v2, any webhook), on 127.0.0.1. It records every request and
// answers as told:
//
//   const hook = await fakeHook({ status: 200, body: 'ok' });
//   hook.url                       base URL (any path is accepted)
//   hook.requests                  every request: {time, method, path, headers, body, json, status}
//   hook.accepted                  the requests answered 2xx
//   hook.failFor(ms, status)       answer status (e.g. 503) to everything for ms from now
//   hook.failNext(n, status, {retryAfter})  the next n requests get status (with Retry-After)
//   hook.hang(true)                accept the connection, read the request, never answer
//   hook.waitFor(pred, ms)         the first accepted request matching pred
//   hook.close()
import http from 'node:http';
import { waitFor } from './wait.mjs';

export async function fakeHook({ status = 200, body = 'ok', accepted: acceptedStatus } = {}) {
  const state = { failUntil: 0, failStatus: 503, queue: [], hang: false };
  const requests = [];
  const accepted = [];
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const entry = { time: Date.now(), method: req.method, path: req.url, headers: req.headers, body: text, status: 0 };
      try {
        entry.json = JSON.parse(text);
      } catch {}
      requests.push(entry);
      if (state.hang) {
        entry.status = -1;
        res.on('close', () => (entry.closedAt = Date.now()));
        return;
      }
      let answer = { status: acceptedStatus ?? status, body, retryAfter: undefined };
      if (state.queue.length) answer = state.queue.shift();
      else if (Date.now() < state.failUntil) answer = { status: state.failStatus, body: 'unavailable' };
      entry.status = answer.status;
      const headers = { 'Content-Type': 'text/plain' };
      if (answer.retryAfter !== undefined) headers['Retry-After'] = String(answer.retryAfter);
      res.writeHead(answer.status, headers);
      res.end(answer.body ?? '');
      if (answer.status >= 200 && answer.status < 300) accepted.push(entry);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = server.address().port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    accepted,
    failFor(ms, st = 503) {
      state.failUntil = Date.now() + ms;
      state.failStatus = st;
    },
    failNext(n, st, { retryAfter, body: b = 'refused' } = {}) {
      for (let i = 0; i < n; i++) state.queue.push({ status: st, body: b, retryAfter });
    },
    hang(on = true) {
      state.hang = on;
    },
    waitFor(pred, timeoutMs = 5000, message) {
      return waitFor(() => accepted.find(pred), timeoutMs, {
        message: () => (message ?? `a request matching ${pred}`) + `\n  received: ${JSON.stringify(requests.map((r) => [r.status, r.path, r.body.slice(0, 80)]))}`,
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
