// telegram-cli.test.mjs — `faultline telegram chat-id`: asks getUpdates and prints one line per
// distinct chat with its id; with no updates prints a hint; exit 0.
import assert from 'node:assert/strict';
import { scenario } from './lib/scenario.mjs';

const now = Math.floor(Date.now() / 1000);
const OPS = { id: -1001234567, title: 'Ops alerts', type: 'supergroup' };
const ANN = { id: 42, first_name: 'Ann', username: 'ann_ops', type: 'private' };
const UPDATES = [
  { update_id: 9001, my_chat_member: { chat: OPS, from: { id: 42, is_bot: false, first_name: 'Ann' }, date: now, old_chat_member: { status: 'left' }, new_chat_member: { status: 'member' } } },
  { update_id: 9002, message: { message_id: 1, from: { id: 42, is_bot: false, first_name: 'Ann' }, chat: OPS, date: now, text: '/start' } },
  { update_id: 9003, message: { message_id: 2, from: { id: 42, is_bot: false, first_name: 'Ann' }, chat: ANN, date: now, text: 'hello' } },
  { update_id: 9004, message: { message_id: 3, from: { id: 42, is_bot: false, first_name: 'Ann' }, chat: OPS, date: now, text: 'again' } },
];

scenario('telegram chat-id lists each chat the bot has seen once, with its id', async (ctx) => {
  const tg = await ctx.telegram({ token: '123456:ABC-fake', updates: UPDATES });
  const r = await ctx.run(['telegram', 'chat-id'], { env: { TELEGRAM_TOKEN: tg.token, TELEGRAM_API_URL: tg.url } });
  assert.equal(r.code, 0, `exit status; stderr: ${r.stderr}`);
  const getUpdates = tg.requests.filter((q) => q.path === `/bot${tg.token}/getUpdates`);
  assert.ok(getUpdates.length >= 1, `asked getUpdates with the token: ${JSON.stringify(tg.requests.map((q) => q.path))}`);
  const lines = r.stdout.split('\n').filter((l) => l.trim());
  const opsLines = lines.filter((l) => l.includes('-1001234567'));
  const annLines = lines.filter((l) => /(^|[^\d-])42([^\d]|$)/.test(l));
  assert.equal(opsLines.length, 1, `one line for -1001234567:\n${r.stdout}`);
  assert.equal(annLines.length, 1, `one line for 42:\n${r.stdout}`);
  assert.match(opsLines[0], /Ops alerts/);
  assert.ok(/Ann|ann_ops/.test(annLines[0]), `private chat line names the person: ${annLines[0]}`);
});

scenario('telegram chat-id with no updates prints a hint and exits 0', async (ctx) => {
  const tg = await ctx.telegram({ token: '123456:ABC-fake', updates: [] });
  const r = await ctx.run(['telegram', 'chat-id'], { env: { TELEGRAM_TOKEN: tg.token, TELEGRAM_API_URL: tg.url } });
  assert.equal(r.code, 0, `exit status; stderr: ${r.stderr}`);
  const out = (r.stdout + r.stderr).trim();
  assert.ok(out.length > 20, `a hint, got: ${JSON.stringify(out)}`);
  assert.match(out, /message|\/start|add/i, 'the hint tells what to do');
  assert.doesNotMatch(r.stdout, /-100\d+/);
});

scenario('telegram chat-id without TELEGRAM_TOKEN exits 2 naming it', async (ctx) => {
  const tg = await ctx.telegram();
  const r = await ctx.run(['telegram', 'chat-id'], { env: { TELEGRAM_API_URL: tg.url } });
  assert.equal(r.code, 2, `exit status; stderr: ${r.stderr}`);
  assert.match(r.stderr, /TELEGRAM_TOKEN/);
  assert.equal(tg.requests.length, 0);
});

scenario('telegram chat-id with a token Telegram refuses fails with its description', async (ctx) => {
  const tg = await ctx.telegram({ token: 'the-right-token' });
  const r = await ctx.run(['telegram', 'chat-id'], { env: { TELEGRAM_TOKEN: 'a-wrong-token', TELEGRAM_API_URL: tg.url } });
  assert.equal(r.code, 1, `exit status; stdout: ${r.stdout} stderr: ${r.stderr}`);
  assert.match(r.stderr, /Not Found|404/);
});
