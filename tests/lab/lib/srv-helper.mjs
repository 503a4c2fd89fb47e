// srv-helper.mjs — runs inside the lab's server namespace (started with `ip netns exec`) and is
// the test's only window into it: a fake Telegram on 127.0.0.1 there (the faultline server's
// TELEGRAM_API_URL), and a Unix-socket HTTP endpoint on the shared filesystem, which the test
// process (in another network namespace) uses:
//   GET  /tg                → {"messages":[...], "attempts":[...]} of the fake Telegram
//   ANY  /fwd/<path>        → forwarded to http://127.0.0.1:<api-port>/<path> in this namespace
// usage: node srv-helper.mjs <socket path> <api port> <telegram token>
// Prints one line {"telegram_url": "..."} on stdout once both are listening; exits on SIGTERM.
import fs from 'node:fs';
import http from 'node:http';
import { fakeTelegram } from '../../integration/lib/fake-telegram.mjs';

const [sockPath, apiPort, token] = process.argv.slice(2);
if (!sockPath || !apiPort || !token) {
  console.error('usage: srv-helper.mjs <socket path> <api port> <telegram token>');
  process.exit(2);
}

const tg = await fakeTelegram({ token });

function forward(req, res, body) {
  const path = req.url.slice('/fwd'.length) || '/';
  const headers = { ...req.headers, host: `127.0.0.1:${apiPort}`, 'content-length': String(body.length) };
  delete headers.connection;
  const up = http.request({ host: '127.0.0.1', port: Number(apiPort), path, method: req.method, headers, agent: false }, (r) => {
    const chunks = [];
    r.on('data', (c) => chunks.push(c));
    r.on('end', () => {
      const out = Buffer.concat(chunks);
      res.writeHead(r.statusCode, { 'content-type': r.headers['content-type'] ?? 'text/plain', 'content-length': out.length });
      res.end(out);
    });
  });
  up.setTimeout(10000, () => up.destroy(new Error('timeout after 10000 ms')));
  up.on('error', (err) => {
    const text = JSON.stringify({ helper_error: err.message });
    res.writeHead(599, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
  up.end(body);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (req.url === '/tg') {
      const text = JSON.stringify({ messages: tg.messages, attempts: tg.attempts });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      return res.end(text);
    }
    if (req.url.startsWith('/fwd/')) return forward(req, res, body);
    res.writeHead(404);
    res.end();
  });
});

try {
  fs.unlinkSync(sockPath);
} catch {}
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(sockPath, resolve);
});
process.stdout.write(JSON.stringify({ telegram_url: tg.url }) + '\n');

const stop = async () => {
  server.close();
  await tg.close();
  try {
    fs.unlinkSync(sockPath);
  } catch {}
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
