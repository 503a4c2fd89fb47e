// http.mjs — a tiny HTTP client over node:http for the suites: no keep-alive (servers are killed
// and restarted under us), every response read whole, JSON parsed when it parses.
import http from 'node:http';

/**
 * request(url, {method, headers, body, timeoutMs}) → {status, headers, text, json, raw}
 * body: a string/Buffer is sent as is; anything else is JSON-encoded with a JSON content type.
 */
export function request(url, { method = 'GET', headers = {}, body, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    let payload;
    const hdrs = { ...headers };
    if (body !== undefined) {
      if (typeof body === 'string' || Buffer.isBuffer(body)) {
        payload = Buffer.from(body);
      } else {
        payload = Buffer.from(JSON.stringify(body));
        if (!Object.keys(hdrs).some((h) => h.toLowerCase() === 'content-type'))
          hdrs['Content-Type'] = 'application/json';
      }
      hdrs['Content-Length'] = String(payload.length);
    }
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        // The path is sent exactly as given (so tests can send "/admin/api/worker/a(1)").
        path: u.pathname + u.search,
        method,
        headers: hdrs,
        agent: false,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const text = raw.toString('utf8');
          let json;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, text, json, raw });
        });
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/** Sends a raw path (no URL normalisation at all): rawRequest(port, 'GET', '/a/../b'). */
export function rawPath(baseUrl, path, opts = {}) {
  return request(baseUrl.replace(/\/$/, '') + path, opts);
}

export function basicAuth(user, pass) {
  return 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
}

/** GET an admin path with HTTP Basic; server is what startServer returned. */
export function adminGet(server, path, { user = server.adminUser, pass = server.adminPass, ...opts } = {}) {
  return request(server.url + path, { ...opts, headers: { Authorization: basicAuth(user, pass), ...(opts.headers ?? {}) } });
}

/** GET an admin JSON path and insist on 200 + JSON. */
export async function adminJson(server, path) {
  const res = await adminGet(server, path);
  if (res.status !== 200 || res.json === undefined)
    throw new Error(`GET ${path}: expected 200 JSON, got ${res.status}: ${res.text.slice(0, 300)}`);
  return res.json;
}

/** Events newest first via /admin/api/events. */
export async function events(server, { limit = 100, type } = {}) {
  const q = new URLSearchParams({ limit: String(limit) });
  if (type) q.set('type', type);
  const body = await adminJson(server, `/admin/api/events?${q}`);
  if (!Array.isArray(body.events)) throw new Error(`events: no "events" array in ${JSON.stringify(body).slice(0, 300)}`);
  return body.events;
}

export async function workerStatus(server, name) {
  const body = await adminJson(server, '/admin/api/status');
  if (!Array.isArray(body.workers)) throw new Error(`status: no "workers" array in ${JSON.stringify(body).slice(0, 300)}`);
  return name === undefined ? body : body.workers.find((w) => w.name === name);
}

/**
 * POST /api/v1/heartbeat. auth: 'bearer' (default), 'x-api-key', or 'none'; key defaults to the
 * server's API key.
 */
export function heartbeat(server, body, { key = server.apiKey, auth = 'bearer', headers = {}, ...opts } = {}) {
  const h = { ...headers };
  if (auth === 'bearer') h.Authorization = `Bearer ${key}`;
  else if (auth === 'x-api-key') h['X-API-Key'] = key;
  return request(server.url + '/api/v1/heartbeat', { ...opts, method: 'POST', headers: h, body });
}

/** A well-formed heartbeat body. */
export function hb(name, extra = {}) {
  return { name, gpus: 2, version: '0.0.1-test', uptime_s: 1234, ...extra };
}
