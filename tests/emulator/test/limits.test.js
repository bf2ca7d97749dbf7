'use strict';
// Complexity, rate limits and budgets over real HTTP.
const test = require('node:test');
const assert = require('node:assert/strict');
const { startEmulator, gql, control, createItemDoc, sleep, ITEMS_BOARD } = require('./helpers');

let E;
test.before(async () => { E = await startEmulator(); });
test.after(() => E.close());
test.beforeEach(async () => {
  await control(E.url, 'config', {
    time_scale: 1, latency_ms: 0, mutation_latency_ms: 0,
    limits: { complexity_per_minute: 10000000, complexity_per_request: 5000000, mutations_per_minute: 2000, requests_per_minute: 5000, daily_calls: null, concurrency: 40, items_per_hour: null },
  });
  await control(E.url, 'reset', {});
});

const CPLX = 'complexity { query before after reset_in_x_seconds }';

test('complexity field reports before/after/query truthfully, also on mutations', async () => {
  let r = await gql(E.url, `query { boards(ids: [${ITEMS_BOARD}]) { id name } ${CPLX} }`);
  const c1 = r.json.data.complexity;
  assert.equal(c1.before, 10000000);
  assert.equal(c1.after, c1.before - c1.query);
  assert.ok(c1.query > 0 && c1.query < 1000);
  assert.ok(c1.reset_in_x_seconds >= 1 && c1.reset_in_x_seconds <= 60);
  r = await gql(E.url, `mutation { create_item(board_id: ${ITEMS_BOARD}, item_name: "x", column_values: "{\\"text_mkr5wya6\\":\\"a\\",\\"numeric_mkr5cact\\":\\"1\\"}") { id } ${CPLX} }`);
  const c2 = r.json.data.complexity;
  assert.equal(c2.before, c1.after);
  assert.equal(c2.after, c2.before - c2.query);
  assert.ok(c2.query >= 10000 && c2.query <= 30000, `create_item cost ${c2.query}`);
  const log = await control(E.url, 'log');
  assert.deepEqual(log.requests.map((e) => e.cost), [c1.query, c2.query]);
});

test('costs are configurable', async () => {
  await control(E.url, 'config', { costs: { mutations: { create_item: 30000 }, per_column_value: 0 } });
  const r = await gql(E.url, `mutation { create_item(board_id: ${ITEMS_BOARD}, item_name: "x") { id } ${CPLX} }`);
  assert.equal(r.json.data.complexity.query, 30001);
  await control(E.url, 'config', { costs: { mutations: { create_item: 10000 }, per_column_value: 500 } });
});

test('complexity budget exhausted -> 429 COMPLEXITY_BUDGET_EXHAUSTED with retry_in_seconds, refills after the minute', async () => {
  await control(E.url, 'config', { limits: { complexity_per_minute: 25000 } });
  assert.ok((await gql(E.url, createItemDoc('a'))).json.data.create_item);
  assert.ok((await gql(E.url, createItemDoc('b'))).json.data.create_item);
  let r = await gql(E.url, createItemDoc('c'));
  assert.equal(r.status, 429);
  const e = r.json.errors[0];
  assert.equal(e.message, 'Complexity budget exhausted');
  assert.equal(e.extensions.code, 'COMPLEXITY_BUDGET_EXHAUSTED');
  assert.ok(e.extensions.retry_in_seconds > 0 && e.extensions.retry_in_seconds <= 60);
  assert.equal(e.extensions.complexity_budget_limit, undefined, '2025-07+ shape has no budget fields');
  assert.equal(r.headers['retry-after'], String(e.extensions.retry_in_seconds));
  // Older versions keep the budget fields.
  r = await gql(E.url, createItemDoc('c'), undefined, { version: '2025-04' });
  assert.equal(r.json.errors[0].extensions.complexity_budget_limit, 25000);
  assert.equal(r.json.errors[0].extensions.status_code, 429);
  await control(E.url, 'advance', { seconds: 61 });
  r = await gql(E.url, createItemDoc('c'));
  assert.equal(r.status, 200);
  const st = await control(E.url, 'state');
  assert.equal(st.boards.find((b) => b.id === ITEMS_BOARD).items.length, 3, 'rejected requests did not execute');
});

test('time scale: with 600 emulated s per real s a budget-bound run waits about a second', async () => {
  await control(E.url, 'config', { time_scale: 600, limits: { complexity_per_minute: 15000 } });
  assert.equal((await gql(E.url, createItemDoc('a'))).status, 200);
  const r = await gql(E.url, createItemDoc('b'));
  assert.equal(r.status, 429);
  assert.equal(r.json.errors[0].extensions.retry_in_seconds, 1);
  await sleep(150); // 150 ms real = 90 s emulated
  assert.equal((await gql(E.url, createItemDoc('b'))).status, 200);
});

test('per-request complexity limit -> maxComplexityExceeded, nothing executed', async () => {
  await control(E.url, 'config', { limits: { complexity_per_request: 5000 } });
  const r = await gql(E.url, createItemDoc('a'));
  assert.equal(r.status, 200);
  assert.equal(r.json.errors[0].extensions.code, 'maxComplexityExceeded');
  assert.ok(r.json.errors[0].extensions.complexity > 5000);
  const st = await control(E.url, 'state');
  assert.equal(st.boards.find((b) => b.id === ITEMS_BOARD).items.length, 0);
});

test('list fields multiply by limit: a huge items_page query goes over 5,000,000', async () => {
  const r = await gql(E.url, `{ boards(limit: 500) { items_page(limit: 500) { items { id name column_values { id text value } subitems { id name column_values { text } } } } } }`);
  assert.equal(r.json.errors[0].extensions.code, 'maxComplexityExceeded');
});

test('mutations per minute count each aliased mutation -> 429 RATE_LIMIT_EXCEEDED + Retry-After', async () => {
  await control(E.url, 'config', { limits: { mutations_per_minute: 3 } });
  const two = `mutation { a: create_item(board_id: ${ITEMS_BOARD}, item_name: "a") { id } b: create_item(board_id: ${ITEMS_BOARD}, item_name: "b") { id } }`;
  assert.equal((await gql(E.url, two)).status, 200);
  const r = await gql(E.url, two);
  assert.equal(r.status, 429);
  assert.equal(r.json.errors[0].extensions.code, 'RATE_LIMIT_EXCEEDED');
  assert.ok(Number(r.headers['retry-after']) >= 1);
  assert.equal((await gql(E.url, '{ me { id } }')).status, 200, 'queries are not mutations');
  assert.equal((await gql(E.url, createItemDoc('c'))).status, 200, 'one more fits');
});

test('requests per minute -> 429 RATE_LIMIT_EXCEEDED', async () => {
  await control(E.url, 'config', { limits: { requests_per_minute: 2 } });
  assert.equal((await gql(E.url, '{ me { id } }')).status, 200);
  assert.equal((await gql(E.url, '{ me { id } }')).status, 200);
  const r = await gql(E.url, '{ me { id } }');
  assert.equal(r.status, 429);
  assert.equal(r.json.errors[0].extensions.code, 'RATE_LIMIT_EXCEEDED');
  assert.ok(r.headers['retry-after']);
});

test('daily call limit -> DAILY_LIMIT_EXCEEDED until midnight UTC', async () => {
  await control(E.url, 'config', { limits: { daily_calls: 2 } });
  await gql(E.url, '{ me { id } }');
  await gql(E.url, '{ me { id } }');
  let r = await gql(E.url, '{ me { id } }');
  assert.equal(r.status, 429);
  assert.equal(r.json.errors[0].extensions.code, 'DAILY_LIMIT_EXCEEDED');
  assert.match(r.headers['ratelimit-policy'], /"daily";q=2;w=86400/);
  await control(E.url, 'advance', { seconds: 86400 });
  r = await gql(E.url, '{ me { id } }');
  assert.equal(r.status, 200);
});

test('hourly item create/update budget (off by default) fails item writes per alias', async () => {
  await control(E.url, 'config', { limits: { items_per_hour: 2 } });
  const q = `mutation { a: create_item(board_id: ${ITEMS_BOARD}, item_name: "a") { id } b: create_item(board_id: ${ITEMS_BOARD}, item_name: "b") { id } c: create_item(board_id: ${ITEMS_BOARD}, item_name: "c") { id } }`;
  const r = await gql(E.url, q);
  assert.ok(r.json.data.a && r.json.data.b);
  assert.equal(r.json.data.c, null);
  assert.deepEqual(r.json.errors[0].path, ['c']);
  assert.equal(r.json.errors[0].extensions.code, 'ITEMS_LIMIT_EXCEEDED');
  assert.ok(r.json.errors[0].extensions.retry_in_seconds > 0);
  await control(E.url, 'advance', { seconds: 3601 });
  assert.ok((await gql(E.url, createItemDoc('d'))).json.data.create_item);
});

test('concurrency limit -> 429 maxConcurrencyExceeded', async () => {
  await control(E.url, 'config', { limits: { concurrency: 2 }, latency_ms: 300 });
  const rs = await Promise.all([1, 2, 3, 4].map(() => gql(E.url, '{ me { id } }')));
  const codes = rs.map((r) => (r.status === 429 ? r.json.errors[0].extensions.code : r.status));
  assert.equal(codes.filter((c) => c === 200).length, 2, JSON.stringify(codes));
  assert.equal(codes.filter((c) => c === 'maxConcurrencyExceeded').length, 2);
  const stats = await control(E.url, 'stats');
  assert.ok(stats.max_inflight >= 3);
});

test('every response carries RateLimit-Policy and RateLimit headers (IETF draft format)', async () => {
  await control(E.url, 'config', { limits: { requests_per_minute: 1 } });
  const rs = [await gql(E.url, '{ me { id } }'), await gql(E.url, '{ me { id } }'), await gql(E.url, '{ me { id } }', undefined, { token: 'bad' }), await gql(E.url, '{ bad')];
  assert.deepEqual(rs.map((r) => r.status), [200, 429, 401, 200]);
  for (const r of rs) {
    assert.match(r.headers['ratelimit-policy'], /^"complexity";q=\d+;w=60, "requests";q=1;w=60, "mutations";q=2000;w=60$/);
    assert.match(r.headers.ratelimit, /^"complexity";r=\d+;t=\d+, "requests";r=\d+;t=\d+, "mutations";r=\d+;t=\d+$/);
  }
  const first = /"complexity";r=(\d+)/.exec(rs[0].headers.ratelimit)[1];
  assert.ok(Number(first) < 10000000, 'remaining budget drops after a request');
});
