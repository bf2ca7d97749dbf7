'use strict';
// Idempotency, board lock, fault injection and control endpoints.
const test = require('node:test');
const assert = require('node:assert/strict');
const { startEmulator, gql, control, createItemDoc, sleep, ITEMS_BOARD } = require('./helpers');

let E;
test.before(async () => { E = await startEmulator(); });
test.after(() => E.close());
test.beforeEach(async () => {
  await control(E.url, 'config', {
    latency_ms: 0, mutation_latency_ms: 0, board_lock: { mode: 'off' }, time_scale: 1,
    faults: { seed: 1, rate_5xx: 0, rate_429: 0, rate_timeout: 0, rate_reset_before: 0, rate_reset_after: 0, rate_truncate: 0, rate_alias_error: 0, only_mutations: true, next: [] },
  });
  await control(E.url, 'reset', {});
});

async function itemCount() {
  const st = await control(E.url, 'state');
  return st.boards.find((b) => b.id === ITEMS_BOARD).items.length;
}

test('Idempotency-Key: a repeat replays the first response without executing again', async () => {
  const doc = createItemDoc('once');
  const a = await gql(E.url, doc, undefined, { idempotencyKey: 'k-1' });
  const b = await gql(E.url, doc, undefined, { idempotencyKey: 'k-1' });
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  assert.equal(b.text, a.text);
  assert.equal(b.headers['idempotency-replayed'], 'true');
  assert.equal(await itemCount(), 1);
  const log = await control(E.url, 'log');
  assert.deepEqual(log.requests.map((e) => [e.idempotency_key, e.replayed]), [['k-1', false], ['k-1', true]]);
});

test('Idempotency-Key with a different body -> 409, and keys expire after 30 minutes', async () => {
  await gql(E.url, createItemDoc('one'), undefined, { idempotencyKey: 'k-2' });
  const r = await gql(E.url, createItemDoc('two'), undefined, { idempotencyKey: 'k-2' });
  assert.equal(r.status, 409);
  assert.equal(r.json.errors[0].extensions.code, 'IDEMPOTENCY_KEY_REUSED');
  await control(E.url, 'advance', { seconds: 1801 });
  const again = await gql(E.url, createItemDoc('one'), undefined, { idempotencyKey: 'k-2' });
  assert.equal(again.status, 200);
  assert.equal(again.headers['idempotency-replayed'], undefined);
  assert.equal(await itemCount(), 2);
});

test('Idempotency-Key: a concurrent duplicate in flight -> 409 with Retry-After', async () => {
  await control(E.url, 'config', { mutation_latency_ms: 300 });
  const doc = createItemDoc('slow');
  const [a, b] = await Promise.all([gql(E.url, doc, undefined, { idempotencyKey: 'k-3' }), sleep(50).then(() => gql(E.url, doc, undefined, { idempotencyKey: 'k-3' }))]);
  assert.equal(a.status, 200);
  assert.equal(b.status, 409);
  assert.equal(b.json.errors[0].extensions.code, 'IDEMPOTENCY_REQUEST_IN_PROGRESS');
  assert.equal(b.headers['retry-after'], '1');
  assert.equal(await itemCount(), 1);
});

test('overlapping mutations on one board are counted; 423 when board_lock is on', async () => {
  await control(E.url, 'config', { mutation_latency_ms: 250 });
  let rs = await Promise.all([gql(E.url, createItemDoc('a')), gql(E.url, createItemDoc('b'))]);
  assert.deepEqual(rs.map((r) => r.status), [200, 200]);
  let stats = await control(E.url, 'stats');
  assert.equal(stats.overlapping_mutations[ITEMS_BOARD], 1);
  assert.equal(stats.max_concurrent_mutations[ITEMS_BOARD], 2);
  await control(E.url, 'config', { board_lock: { mode: '423_on_overlap' } });
  rs = await Promise.all([gql(E.url, createItemDoc('c')), gql(E.url, createItemDoc('d'))]);
  assert.deepEqual(rs.map((r) => r.status).sort(), [200, 423]);
  const locked = rs.find((r) => r.status === 423);
  assert.equal(locked.json.errors[0].extensions.code, 'RESOURCE_LOCKED');
  assert.ok(locked.headers['retry-after']);
  stats = await control(E.url, 'stats');
  assert.equal(stats.overlapping_mutations[ITEMS_BOARD], 2);
  assert.equal(await itemCount(), 3);
  const log = await control(E.url, 'log');
  assert.equal(log.overlapping_mutations[ITEMS_BOARD], 2);
  assert.equal(log.requests.filter((e) => e.overlap).length, 2);
});

test('fault 500 (JSON) and 502/503/504 (HTML gateway pages); nothing executed', async () => {
  await control(E.url, 'config', { faults: { next: ['500', '502', '503', '504'] } });
  const rs = [];
  for (let i = 0; i < 4; i++) rs.push(await gql(E.url, createItemDoc(`x${i}`)));
  assert.deepEqual(rs.map((r) => r.status), [500, 502, 503, 504]);
  assert.equal(rs[0].json.errors[0].extensions.code, 'INTERNAL_SERVER_ERROR');
  assert.equal(rs[1].json, null);
  assert.match(rs[1].text, /502 Bad Gateway/);
  assert.equal(await itemCount(), 0);
});

test('fault 429 carries retry_in_seconds and Retry-After', async () => {
  await control(E.url, 'config', { faults: { next: ['429'], retry_in_seconds: 3 } });
  const r = await gql(E.url, createItemDoc('x'));
  assert.equal(r.status, 429);
  assert.equal(r.json.errors[0].extensions.code, 'RATE_LIMIT_EXCEEDED');
  assert.equal(r.json.errors[0].extensions.retry_in_seconds, 3);
  assert.equal(r.headers['retry-after'], '3');
});

test('fault reset_before: connection reset, the item is NOT created', async () => {
  await control(E.url, 'config', { faults: { next: ['reset_before'] } });
  const r = await gql(E.url, createItemDoc('x'));
  assert.ok(r.error, 'client sees a broken connection');
  assert.equal(await itemCount(), 0);
});

test('fault reset_after: item created but client never heard; an idempotent retry replays the answer', async () => {
  await control(E.url, 'config', { faults: { next: ['reset_after'] } });
  const doc = createItemDoc('ghost');
  const r = await gql(E.url, doc, undefined, { idempotencyKey: 'retry-1' });
  assert.ok(r.error);
  assert.equal(await itemCount(), 1);
  const retry = await gql(E.url, doc, undefined, { idempotencyKey: 'retry-1' });
  assert.equal(retry.status, 200);
  assert.equal(retry.headers['idempotency-replayed'], 'true');
  assert.equal(await itemCount(), 1, 'no duplicate');
  const st = await control(E.url, 'state');
  assert.equal(retry.json.data.create_item.id, st.boards.find((b) => b.id === ITEMS_BOARD).items[0].id);
});

test('fault truncate: body cut short after executing', async () => {
  await control(E.url, 'config', { faults: { next: ['truncate'] } });
  const r = await gql(E.url, createItemDoc('x'));
  assert.ok(r.error, JSON.stringify(r));
  assert.equal(await itemCount(), 1);
});

test('fault timeout: answer arrives after the client gave up; the mutation still runs', async () => {
  await control(E.url, 'config', { faults: { next: ['timeout'], timeout_ms: 400 } });
  const r = await gql(E.url, createItemDoc('late'), undefined, { timeoutMs: 100 });
  assert.ok(r.error);
  assert.equal(await itemCount(), 0);
  await sleep(500);
  assert.equal(await itemCount(), 1);
});

test('fault alias_error: one alias fails on its own, the others execute', async () => {
  await control(E.url, 'config', { faults: { next: ['alias_error'] } });
  const q = `mutation { a: create_item(board_id: ${ITEMS_BOARD}, item_name: "a") { id } b: create_item(board_id: ${ITEMS_BOARD}, item_name: "b") { id } c: create_item(board_id: ${ITEMS_BOARD}, item_name: "c") { id } }`;
  const r = await gql(E.url, q);
  assert.equal(r.status, 200);
  assert.equal(r.json.errors.length, 1);
  const failed = r.json.errors[0].path[0];
  assert.equal(r.json.errors[0].extensions.code, 'INTERNAL_SERVER_ERROR');
  assert.equal(r.json.data[failed], null);
  assert.equal(Object.values(r.json.data).filter(Boolean).length, 2);
  assert.equal(await itemCount(), 2);
});

async function faultSequence(seed) {
  await control(E.url, 'config', { faults: { seed, rate_5xx: 0.3, rate_429: 0.2, next: [] } });
  await control(E.url, 'reset', {});
  const out = [];
  for (let i = 0; i < 20; i++) out.push((await gql(E.url, createItemDoc(`x${i}`))).status);
  return out;
}

test('random faults are seeded and reproducible; only_mutations spares queries', async () => {
  const a = await faultSequence(7);
  const b = await faultSequence(7);
  const c = await faultSequence(8);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.ok(a.some((s) => s >= 500) && a.some((s) => s === 429) && a.some((s) => s === 200), a.join(','));
  for (let i = 0; i < 10; i++) assert.equal((await gql(E.url, '{ me { id } }')).status, 200);
  const stats = await control(E.url, 'stats');
  assert.ok(Object.keys(stats.faults).length > 0);
});

test('control: fixture, state, reset, log with documents, variables, cost and status', async () => {
  let r = await control(E.url, 'fixture', { boards: [{ id: 777, name: 'Extra', columns: [{ id: 'status', title: 'Status', type: 'status', labels: ['New', 'Old'] }], groups: [{ id: 'g1', title: 'G1' }] }] });
  assert.deepEqual(r.boards, ['777']);
  const q = 'mutation ($n: String!) { create_item(board_id: 777, group_id: "g1", item_name: $n, column_values: "{\\"status\\":\\"Old\\"}") { id } }';
  await gql(E.url, q, { n: 'hello' });
  const st = await control(E.url, 'state');
  const b = st.boards.find((x) => x.id === '777');
  assert.equal(b.items[0].name, 'hello');
  assert.equal(b.items[0].group_id, 'g1');
  assert.deepEqual(b.items[0].column_values.status, { value: { index: 1 }, text: 'Old' });
  const log = await control(E.url, 'log');
  const e = log.requests[log.requests.length - 1];
  assert.equal(e.document, q);
  assert.deepEqual(e.variables, { n: 'hello' });
  assert.equal(e.status, 200);
  assert.ok(e.cost > 10000);
  assert.equal(e.operation, 'mutation');
  assert.deepEqual(e.boards, ['777']);
  await control(E.url, 'reset', {});
  const after = await control(E.url, 'state');
  assert.equal(after.boards.some((x) => x.id === '777'), false, 'reset goes back to the start fixtures');
  assert.equal((await control(E.url, 'log')).requests.length, 0);
  r = await control(E.url, 'nope', {});
  assert.match(r.error, /unknown control endpoint/);
});
