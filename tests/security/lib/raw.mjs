// raw.mjs — raw TCP for the security suites: requests written byte by byte as an attacker
// would, from any loopback address (127.0.0.0/8 all reach the server), and what came back.
import fs from 'node:fs';
import net from 'node:net';

/**
 * Opens a connection from localAddress (default 127.0.0.1); resolves once connected. The socket
 * collects what the server sends in `.received` and records how it ended in `.ended`
 * ({how: 'end'|'reset'|'error', at: ms since connect}); `.gone` resolves then.
 */
export function connect(port, { localAddress = '127.0.0.1' } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port, localAddress });
    sock.received = Buffer.alloc(0);
    sock.ended = null;
    let connectedAt = 0;
    sock.gone = new Promise((done) => {
      const finish = (how) => {
        if (!sock.ended) sock.ended = { how, at: Date.now() - connectedAt };
        done(sock.ended);
      };
      sock.on('end', () => {
        finish('end');
        sock.destroy();
      });
      sock.on('error', (e) => finish(e.code === 'ECONNRESET' ? 'reset' : `error ${e.code}`));
      sock.on('close', () => finish('end'));
    });
    sock.on('data', (c) => {
      sock.received = Buffer.concat([sock.received, c]);
    });
    sock.once('connect', () => {
      connectedAt = Date.now();
      resolve(sock);
    });
    sock.once('error', reject);
  });
}

/** The first HTTP response in buf: {status, headers (lower-case names), body} or null. */
export function parseResponse(buf) {
  const text = buf.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = text.slice(0, end).split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const len = Number(headers['content-length'] ?? 0);
  if (text.length < end + 4 + len) return null;
  const body = buf.subarray(end + 4, end + 4 + len).toString('utf8');
  let json;
  try {
    json = JSON.parse(body);
  } catch {}
  return { status, headers, body, json };
}

/** Resolves with the first complete response on sock, or rejects after timeoutMs. */
export function response(sock, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const r = parseResponse(sock.received);
      if (r) {
        cleanup();
        resolve(r);
        return true;
      }
      return false;
    };
    const onEnd = () => {
      if (!check()) {
        cleanup();
        reject(new Error(`connection ended (${sock.ended?.how}) without a complete response; got: ${JSON.stringify(sock.received.toString('latin1').slice(0, 300))}`));
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no complete response within ${timeoutMs} ms; got: ${JSON.stringify(sock.received.toString('latin1').slice(0, 300))}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      sock.off('data', check);
      sock.gone.then(() => {}, () => {});
    };
    sock.on('data', check);
    sock.gone.then(onEnd);
    check();
  });
}

/** Writes data and resolves once the kernel took it (or the socket died). */
export function write(sock, data) {
  return new Promise((resolve) => {
    if (sock.destroyed) return resolve(false);
    sock.write(data, (err) => resolve(!err));
  });
}

/** Resolves with {how, at} when sock ends, or null after ms. */
export async function endedWithin(sock, ms) {
  let timer;
  const r = await Promise.race([sock.gone, new Promise((res) => (timer = setTimeout(() => res(null), ms)))]);
  clearTimeout(timer);
  return r;
}

/** Request head text: method, path, headers ({name: value} or [[name, value], ...]). */
export function head(method, path, headers = {}) {
  const list = Array.isArray(headers) ? headers : Object.entries(headers);
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${list.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** The server process' resident memory in kB (Linux). */
export function rssKb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]);
}
