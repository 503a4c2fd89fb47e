// fake-ingest.mjs — a stand-in for the faultline server's heartbeat endpoint, to watch what an
// agent sends. Records every request; answers `status` (204 by default). stop()/listen() let a
// test take it away and bring it back on the same port.
import http from 'node:http';
import { waitFor } from './wait.mjs';

export async function fakeIngest({ status = 204, port = 0 } = {}) {
  const requests = [];
  const sockets = new Set();
  const state = { status };
  let server;

  function handler(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      requests.push({ time: Date.now(), method: req.method, path: req.url, headers: req.headers, text, json });
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
    setStatus(s) {
      state.status = s;
    },
    listen,
    stop,
    close: stop,
    waitForRequests(n, timeoutMs = 5000) {
      return waitFor(() => requests.length >= n && requests, timeoutMs, {
        message: () => `${n} heartbeat request(s) at the fake server (got ${requests.length})`,
      });
    },
  };
}
