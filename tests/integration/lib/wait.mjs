// wait.mjs — small timing helpers shared by the integration suites.

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls predicate (sync or async) until it returns a truthy value, and resolves with that value.
 * Exceptions thrown by the predicate (a refused connection while a server starts, say) count as
 * "not yet". On timeout it rejects with `message`, the last value seen and the last error.
 */
export async function waitFor(predicate, timeoutMs = 5000, { intervalMs = 50, message } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  let lastError;
  for (;;) {
    try {
      last = await predicate();
      if (last) return last;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
  const what = typeof message === 'function' ? message() : message;
  const parts = [`timed out after ${timeoutMs} ms: ${what ?? predicate.toString().slice(0, 200)}`];
  if (last !== undefined) parts.push(`last value: ${safeJson(last)}`);
  if (lastError) parts.push(`last error: ${lastError.message ?? lastError}`);
  throw new Error(parts.join('\n'));
}

/** Resolves at wall-clock time timeMs (at once if that has passed). */
export async function sleepUntil(timeMs) {
  const wait = timeMs - Date.now();
  if (wait > 0) await sleep(wait);
}

export function safeJson(v) {
  try {
    const s = JSON.stringify(v);
    return s && s.length > 2000 ? s.slice(0, 2000) + '…' : s;
  } catch {
    return String(v);
  }
}
