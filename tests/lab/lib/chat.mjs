// chat.mjs — the lab's Telegram chat as the person woken at night reads it: every message of a
// scenario, in order, once the follow-up has come and every agent has handed over its backlog
// (so nothing more can follow), and the follow-up's headline.
import fs from 'node:fs';
import path from 'node:path';

/** True when the agent's backlog is fully acknowledged (the agent empties the file then). */
function backlogEmpty(lab, name) {
  try {
    return fs.statSync(path.join(lab.agent(name).dataDir, 'logs', 'backlog.jsonl')).size === 0;
  } catch {
    return false;
  }
}

/**
 * Waits for the follow-up, then for every named agent's backlog to be acknowledged, and
 * returns {followUp, headline, texts}: the follow-up's text, its first line after the title,
 * and the text of every message the scenario sent. t.diagnostic shows the chat.
 */
export async function chatAfterFollowUp(lab, t, names, timeoutMs = 60000) {
  const followUp = await lab.waitMessage((m) => m.text.startsWith('🔎 Follow-up'), timeoutMs, 'the follow-up');
  await lab.waitFor(() => names.every((n) => backlogEmpty(lab, n)), 30000, 'every agent\'s backlog acknowledged');
  const texts = (await lab.messages()).map((m) => m.text);
  t.diagnostic(`the chat:\n${texts.join('\n\n')}`);
  return { followUp: followUp.text, headline: followUp.text.split('\n')[1], texts };
}

/** The kind of each message, for asserting their number and order: "incident", "update",
 * "resolved", "follow-up", "correction", "down", "up", or the first line. */
export function kinds(texts) {
  return texts.map((t) => {
    if (/^🔎 Follow-up/.test(t)) return 'follow-up';
    if (/^🔎 Correction/.test(t)) return 'correction';
    if (/^✅ RESOLVED/.test(t)) return 'resolved';
    if (/growing|still cut off|^🔴 Now|^⚠️ Now/.test(t)) return 'update';
    if (/^🔴 \S+ is DOWN/.test(t)) return 'down';
    if (/^🟢 \S+ is UP/.test(t)) return 'up';
    if (/^🔴 (NETWORK ISSUE|WIDESPREAD)|^⚠️/.test(t)) return 'incident';
    return t.split('\n')[0];
  });
}
