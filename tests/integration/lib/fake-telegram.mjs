// fake-telegram.mjs — a stand-in for the Telegram Bot API on 127.0.0.1.
//
//   const tg = await fakeTelegram({ token: 'T', mode: 'ok' });
//   tg.url                       base URL to pass as TELEGRAM_API_URL
//   tg.messages                  delivered messages: {time, chat_id, text, message_id}; a digest
//                                (the server merges a burst beyond Telegram's pace into one) is
//                                listed as its parts, each with digest: true
//   tg.deliveries                delivered sendMessage bodies as sent (a digest is one)
//   tg.digests                   the delivered digests: {time, chat_id, text, message_id, count}
//   tg.edits                     editMessageText bodies of a delivered message: {time, chat_id, message_id, text}
//   tg.attempts                  every sendMessage attempt: {time, status, text, chat_id, mode}
//   tg.requests                  every request at all: {time, method, path, status}
//   tg.setMode('fail502' | 'ok' | '429' | '425' | 'hang', {retryAfter})
//   tg.failNext(n, mode)         the next n sendMessage attempts fail with mode, then back to mode
//   tg.failChat(chat, n, mode)   the same, for the attempts to one chat only
//   tg.violations                sends that broke Telegram's limits (more than 1/s in a chat, 20/min
//                                in a group); with { enforceLimits: true } they are answered 429
//   tg.onAttempt = async (a) => {...}   runs before each sendMessage attempt is answered
//   tg.waitForMessage(pred, ms)  resolves with the first delivered message matching pred
//   tg.close()
//
// getUpdates answers with opts.updates (default: none). A wrong token gets 404 like Telegram's.
import http from 'node:http';
import { waitFor } from './wait.mjs';

export async function fakeTelegram({ token = 'TESTTOKEN:abc', mode = 'ok', retryAfter = 1, updates = [], enforceLimits = false } = {}) {
  const state = { mode, retryAfter, failQueue: [], chatQueues: new Map(), messageId: 100, updates };
  const lastSends = new Map(); // chat -> times of its accepted sends
  const violations = [];
  const messages = [];
  const deliveries = [];
  const digests = [];
  const edits = [];
  const attempts = [];
  const requests = [];
  const sockets = new Set();
  let api;

  function sendJson(res, entry, status, obj) {
    entry.status = status;
    const text = JSON.stringify(obj);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  function answerSend(res, entry, attempt, body, effective) {
    attempt.mode = effective;
    if (effective === 'fail502') {
      attempt.status = 502;
      entry.status = 502;
      res.writeHead(502, { 'Content-Type': 'text/html' });
      return res.end('<html><body>502 Bad Gateway</body></html>');
    }
    if (effective === '429') {
      attempt.status = 429;
      return sendJson(res, entry, 429, {
        ok: false,
        error_code: 429,
        description: `Too Many Requests: retry after ${state.retryAfter}`,
        parameters: { retry_after: state.retryAfter },
      });
    }
    if (effective === '425') {
      attempt.status = 425;
      return sendJson(res, entry, 425, { ok: false, error_code: 425, description: 'Too Early' });
    }
    if (effective === 'hang') {
      attempt.status = -1; // never answered
      return;
    }
    attempt.status = 200;
    const message_id = ++state.messageId;
    const time = Date.now();
    const delivered = { time, chat_id: body.chat_id, text: body.text, message_id };
    deliveries.push(delivered);
    const digest = /^🗂 (\d+) alerts, held back[^\n]*\n\n/.exec(body.text);
    if (digest) {
      const parts = body.text.slice(digest[0].length).split('\n\n');
      digests.push({ ...delivered, count: Number(digest[1]) });
      for (const text of parts) messages.push({ time, chat_id: body.chat_id, text, message_id, digest: true });
    } else {
      messages.push(delivered);
    }
    return sendJson(res, entry, 200, {
      ok: true,
      result: { message_id, date: Math.floor(time / 1000), chat: { id: Number(body.chat_id) || body.chat_id }, text: body.text },
    });
  }

  // An edit of a message this fake delivered: recorded, answered with the message as Telegram does.
  function answerEdit(res, entry, bodyText) {
    let body;
    try {
      body = JSON.parse(bodyText);
    } catch {}
    const msg = messages.find((m) => m.message_id === body?.message_id);
    if (!msg || typeof body.text !== 'string' || body.text === '')
      return sendJson(res, entry, 400, { ok: false, error_code: 400, description: 'Bad Request: message to edit not found' });
    edits.push({ time: Date.now(), chat_id: body.chat_id, message_id: body.message_id, text: body.text });
    return sendJson(res, entry, 200, { ok: true, result: { message_id: msg.message_id, chat: { id: msg.chat_id }, text: body.text } });
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const time = Date.now();
      const bodyText = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url, 'http://x');
      const entry = { time, method: req.method, path: url.pathname, status: 0, headers: req.headers, body: bodyText };
      requests.push(entry);
      const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
      if (!m || m[1] !== token) return sendJson(res, entry, 404, { ok: false, error_code: 404, description: 'Not Found' });
      const method = m[2];
      if (method === 'getUpdates') return sendJson(res, entry, 200, { ok: true, result: state.updates });
      if (method === 'editMessageText') return answerEdit(res, entry, bodyText);
      if (method !== 'sendMessage') return sendJson(res, entry, 404, { ok: false, error_code: 404, description: 'Not Found: method not found' });

      let body;
      try {
        body = JSON.parse(bodyText);
      } catch {
        attempts.push({ time, status: 400, text: undefined, chat_id: undefined, raw: bodyText });
        return sendJson(res, entry, 400, { ok: false, error_code: 400, description: 'Bad Request: fake expects a JSON body' });
      }
      const attempt = { time, status: 0, text: body.text, chat_id: body.chat_id };
      attempts.push(attempt);
      if (typeof body.text !== 'string' || body.text === '' || body.chat_id === undefined) {
        attempt.status = 400;
        return sendJson(res, entry, 400, { ok: false, error_code: 400, description: 'Bad Request: message text is empty or chat_id missing' });
      }
      const chatQueue = state.chatQueues.get(String(body.chat_id)) ?? [];
      let effective = chatQueue.length ? chatQueue.shift() : state.failQueue.length ? state.failQueue.shift() : state.mode;
      if (effective === 'ok') {
        const chat = String(body.chat_id);
        const sends = (lastSends.get(chat) ?? []).filter((t) => t > time - 60000);
        const tooFast = sends.length && time - sends[sends.length - 1] < 1000;
        const groupFull = chat.startsWith('-') && sends.length >= 20;
        if (tooFast || groupFull) {
          violations.push({ time, chat, reason: tooFast ? '1/s' : '20/min' });
          if (enforceLimits) effective = '429';
        }
        if (effective === 'ok') sends.push(time);
        lastSends.set(chat, sends);
      }
      if (!api.onAttempt) return answerSend(res, entry, attempt, body, effective);
      Promise.resolve()
        .then(() => api.onAttempt(attempt))
        .catch((err) => {
          attempt.hookError = err;
        })
        .then(() => answerSend(res, entry, attempt, body, effective));
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

  api = {
    port,
    token,
    url: `http://127.0.0.1:${port}`,
    messages,
    deliveries,
    digests,
    edits,
    attempts,
    requests,
    onAttempt: null,
    setMode(m, { retryAfter: ra } = {}) {
      state.mode = m;
      if (ra !== undefined) state.retryAfter = ra;
    },
    failNext(n, m = 'fail502') {
      for (let i = 0; i < n; i++) state.failQueue.push(m);
    },
    failChat(chat, n, m = 'fail502') {
      const q = state.chatQueues.get(String(chat)) ?? [];
      for (let i = 0; i < n; i++) q.push(m);
      state.chatQueues.set(String(chat), q);
    },
    violations,
    setUpdates(u) {
      state.updates = u;
    },
    messagesAbout(name) {
      return messages.filter((msg) => msg.text.includes(name));
    },
    waitForMessage(pred, timeoutMs = 5000, message) {
      const p = typeof pred === 'function' ? pred : (msg) => msg.text.includes(pred);
      return waitFor(() => messages.find(p), timeoutMs, {
        message: () =>
          (message ?? `a Telegram message matching ${pred}`) +
          `\n  delivered so far: ${JSON.stringify(messages.map((x) => x.text))}` +
          `\n  attempts: ${JSON.stringify(attempts.map((a) => [a.status, (a.text ?? '').slice(0, 40)]))}`,
      });
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return api;
}
