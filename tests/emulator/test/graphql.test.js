'use strict';
// Transport, auth, versions, validation and queries over real HTTP.
const test = require('node:test');
const assert = require('node:assert/strict');
const { startEmulator, gql, request, control, createItemDoc, ITEMS_BOARD, SUBITEMS_BOARD } = require('./helpers');

let E;
test.before(async () => { E = await startEmulator(); });
test.after(() => E.close());
test.beforeEach(() => control(E.url, 'reset', {}));

test('unknown token -> 401 in monday error shape; "Bearer" prefix is not accepted', async () => {
  for (const token of ['nope', 'Bearer test-token', null]) {
    const r = await gql(E.url, '{ me { id } }', undefined, { token });
    assert.equal(r.status, 401, `token ${token}`);
    assert.equal(r.json.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.equal(r.json.errors[0].extensions.status_code, 401);
    assert.ok(r.headers['ratelimit-policy'], 'rate limit headers on every response');
  }
  const ok = await gql(E.url, '{ me { id account { id } } }');
  assert.equal(ok.status, 200);
  assert.equal(ok.json.data.me.account.id, '4242');
});

test('configured tokens replace the default set', async () => {
  await control(E.url, 'config', { tokens: ['other'] });
  assert.equal((await gql(E.url, '{ me { id } }')).status, 401);
  assert.equal((await gql(E.url, '{ me { id } }', undefined, { token: 'other' })).status, 200);
  await control(E.url, 'config', { tokens: ['test-token'] });
});

test('API-Version: missing -> current version; named versions honoured; unsupported -> 400', async () => {
  let r = await gql(E.url, '{ version { value kind display_name } }', undefined, { version: null });
  assert.deepEqual(r.json.data.version, { value: '2026-10', kind: 'current', display_name: 'Current' });
  r = await gql(E.url, '{ version { value kind } }', undefined, { version: '2026-04' });
  assert.deepEqual(r.json.data.version, { value: '2026-04', kind: 'maintenance' });
  r = await gql(E.url, '{ version { value } }', undefined, { version: 'current' });
  assert.equal(r.json.data.version.value, '2026-10');
  r = await gql(E.url, '{ version { value } }', undefined, { version: '2019-01' });
  assert.equal(r.status, 400);
  assert.equal(r.json.errors[0].extensions.code, 'API_VERSION_NOT_SUPPORTED');
  r = await gql(E.url, '{ versions { value kind } }');
  for (const v of ['2026-01', '2026-04', '2026-07', '2026-10']) assert.ok(r.json.data.versions.some((x) => x.value === v), v);
});

test('API-Version required mode -> 400 API_VERSION_REQUIRED', async () => {
  await control(E.url, 'config', { api_versions: { require_header: true } });
  const r = await gql(E.url, '{ me { id } }', undefined, { version: null });
  assert.equal(r.status, 400);
  assert.equal(r.json.errors[0].extensions.code, 'API_VERSION_REQUIRED');
  await control(E.url, 'config', { api_versions: { require_header: false } });
});

test('ingest_items does not exist before API version 2026-07', async () => {
  const q = `mutation { ingest_items(board_id: ${ITEMS_BOARD}, group_id: "topics") { job_id } }`;
  const r = await gql(E.url, q, undefined, { version: '2026-04' });
  assert.equal(r.status, 200);
  assert.equal(r.json.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
  assert.ok(r.json.errors[0].locations[0].line >= 1);
  assert.equal(r.json.data, undefined);
});

test('syntax errors: HTTP 200, errors[] with locations and extensions.code', async () => {
  const r = await gql(E.url, '{ boards { id ');
  assert.equal(r.status, 200);
  assert.equal(r.json.errors[0].extensions.code, 'GRAPHQL_PARSE_FAILED');
  assert.deepEqual(Object.keys(r.json.errors[0].locations[0]).sort(), ['column', 'line']);
});

test('invalid documents: HTTP 200 with validation errors, nothing executed', async () => {
  const r = await gql(E.url, `mutation { create_item(board_id: ${ITEMS_BOARD}) { id nope } }`);
  assert.equal(r.status, 200);
  assert.ok(r.json.errors.length >= 2);
  for (const e of r.json.errors) {
    assert.equal(e.extensions.code, 'GRAPHQL_VALIDATION_FAILED');
    assert.ok(Array.isArray(e.locations));
  }
  const st = await control(E.url, 'state');
  assert.equal(st.boards.find((b) => b.id === ITEMS_BOARD).items.length, 0);
});

test('valid at monday but not implemented here -> monday-shaped NOT_IMPLEMENTED error, no crash', async () => {
  const r = await gql(E.url, `{ boards(ids: [${ITEMS_BOARD}]) { id owners { id } } }`);
  assert.equal(r.status, 200);
  assert.equal(r.json.errors[0].extensions.code, 'NOT_IMPLEMENTED_IN_EMULATOR');
  assert.match(r.json.errors[0].message, /owners/);
});

test('bad bodies -> 400 (not JSON, no query)', async () => {
  let r = await request(E.url, { headers: { Authorization: 'test-token' }, body: '{nope' });
  assert.equal(r.status, 400);
  assert.equal(r.json.errors[0].extensions.code, 'BAD_REQUEST');
  r = await request(E.url, { headers: { Authorization: 'test-token' }, body: { variables: {} } });
  assert.equal(r.status, 400);
  assert.match(r.json.errors[0].message, /No query string/);
});

test('boards: the legacy metadata fixtures load as they are', async () => {
  const r = await gql(E.url, `{ boards(ids: [${ITEMS_BOARD}, ${SUBITEMS_BOARD}]) { id name columns { id title type settings_str } groups { id title } } }`);
  assert.equal(r.status, 200, r.text);
  const [items, subs] = r.json.data.boards;
  assert.equal(items.id, ITEMS_BOARD);
  assert.equal(items.name, 'Customer Master Schedule');
  assert.equal(items.columns.length, 84);
  assert.deepEqual(items.columns.find((c) => c.id === 'text_mkr5wya6'), { id: 'text_mkr5wya6', title: 'AAG ORDER NUMBER', type: 'text', settings_str: '{}' });
  assert.equal(JSON.parse(items.columns.find((c) => c.id === 'color_mkr5j5pp').settings_str).labels[1], 'Done');
  assert.equal(subs.id, SUBITEMS_BOARD);
  assert.ok(subs.columns.some((c) => c.id === 'dropdown_mkrak7qp' && c.title === 'Size' && c.type === 'dropdown'));
  assert.deepEqual(items.groups, [{ id: 'topics', title: 'Group Title' }]);
});

async function seed(n) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const r = await gql(E.url, createItemDoc(`Item ${i}`, { text_mkr5wya6: `ORD-${i % 3}`, numeric_mkr5cact: String(i) }));
    ids.push(r.json.data.create_item.id);
  }
  return ids;
}

test('item ids are increasing numeric strings', async () => {
  const ids = await seed(3);
  for (const id of ids) assert.match(id, /^\d+$/);
  assert.ok(BigInt(ids[0]) < BigInt(ids[1]) && BigInt(ids[1]) < BigInt(ids[2]));
});

test('items_page + next_items_page: cursor paging over every item exactly once', async () => {
  const ids = await seed(7);
  let r = await gql(E.url, `{ boards(ids: [${ITEMS_BOARD}]) { items_page(limit: 3) { cursor items { id name group { id } } } } }`);
  let pageData = r.json.data.boards[0].items_page;
  const seen = pageData.items.map((i) => i.id);
  assert.equal(pageData.items[0].group.id, 'topics');
  while (pageData.cursor) {
    r = await gql(E.url, 'query ($c: String!) { next_items_page(cursor: $c, limit: 3) { cursor items { id } } }', { c: pageData.cursor });
    pageData = r.json.data.next_items_page;
    seen.push(...pageData.items.map((i) => i.id));
  }
  assert.deepEqual(seen, ids);
  r = await gql(E.url, '{ next_items_page(cursor: "bogus", limit: 3) { cursor } }');
  assert.equal(r.json.errors[0].extensions.code, 'CursorException');
});

test('items_page query_params rules filter items', async () => {
  await seed(6);
  const r = await gql(E.url, `{ boards(ids: [${ITEMS_BOARD}]) { items_page(limit: 50, query_params: {rules: [{column_id: "text_mkr5wya6", compare_value: ["ORD-1"], operator: any_of}]}) { items { name } } } }`);
  assert.deepEqual(r.json.data.boards[0].items_page.items.map((i) => i.name), ['Item 1', 'Item 4']);
});

test('items_page_by_column_values: exact match, cursor paging, limit <= 500', async () => {
  await seed(9);
  const q = `query ($c: [ItemsPageByColumnValuesQuery!]) { items_page_by_column_values(board_id: ${ITEMS_BOARD}, limit: 2, columns: $c) { cursor items { name } } }`;
  let r = await gql(E.url, q, { c: [{ column_id: 'text_mkr5wya6', column_values: ['ORD-2'] }] });
  const first = r.json.data.items_page_by_column_values;
  assert.deepEqual(first.items.map((i) => i.name), ['Item 2', 'Item 5']);
  r = await gql(E.url, `{ items_page_by_column_values(board_id: ${ITEMS_BOARD}, limit: 2, cursor: ${JSON.stringify(first.cursor)}) { cursor items { name } } }`);
  assert.deepEqual(r.json.data.items_page_by_column_values.items.map((i) => i.name), ['Item 8']);
  assert.equal(r.json.data.items_page_by_column_values.cursor, null);
  r = await gql(E.url, `{ items_page_by_column_values(board_id: ${ITEMS_BOARD}, limit: 501, columns: [{column_id: "name", column_values: ["Item 1"]}]) { items { id } } }`);
  assert.equal(r.json.errors[0].extensions.code, 'InvalidArgumentException');
  assert.deepEqual(r.json.errors[0].path, ['items_page_by_column_values']);
});

test('items(ids:) returns id name group column_values{id text value type}', async () => {
  const [id] = await seed(1);
  const r = await gql(E.url, `{ items(ids: [${id}, 1]) { id name group { id } column_values(ids: ["text_mkr5wya6", "numeric_mkr5cact", "date_mkr5zp5"]) { id text value type } } }`);
  assert.equal(r.json.data.items.length, 1);
  const it = r.json.data.items[0];
  assert.equal(it.name, 'Item 0');
  assert.deepEqual(it.column_values, [
    { id: 'text_mkr5wya6', text: 'ORD-0', value: '"ORD-0"', type: 'text' },
    { id: 'date_mkr5zp5', text: null, value: null, type: 'date' },
    { id: 'numeric_mkr5cact', text: '0', value: '"0"', type: 'numbers' },
  ]);
});

test('unknown board -> ResourceNotFoundException with path', async () => {
  const r = await gql(E.url, 'mutation { create_item(board_id: 1, item_name: "x") { id } }');
  assert.equal(r.status, 200);
  assert.equal(r.json.data.create_item, null);
  assert.equal(r.json.errors[0].extensions.code, 'ResourceNotFoundException');
  assert.deepEqual(r.json.errors[0].path, ['create_item']);
});

test('bad variables -> GRAPHQL_VALIDATION_FAILED before anything runs or is charged', async () => {
  const q = `mutation ($n: String!) { create_item(board_id: ${ITEMS_BOARD}, item_name: $n) { id } }`;
  let r = await gql(E.url, q, {});
  assert.equal(r.status, 200);
  assert.equal(r.json.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
  assert.match(r.json.errors[0].message, /\$n/);
  r = await gql(E.url, q, { n: 5 });
  assert.equal(r.json.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
  const stats = await control(E.url, 'stats');
  assert.equal(stats.complexity_used, 0);
  assert.equal(stats.mutations, 0);
});

test('several operations: operationName picks one', async () => {
  const doc = 'query A { me { id } } query B { version { value } }';
  let r = await gql(E.url, doc, undefined, { operationName: 'B' });
  assert.equal(r.json.data.version.value, '2026-10');
  r = await gql(E.url, doc);
  assert.equal(r.json.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
});
