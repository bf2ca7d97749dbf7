'use strict';
// Mutations and column value semantics over real HTTP.
const test = require('node:test');
const assert = require('node:assert/strict');
const { startEmulator, gql, control, createItemDoc, ITEMS_BOARD, SUBITEMS_BOARD } = require('./helpers');

let E;
test.before(async () => { E = await startEmulator(); });
test.after(() => E.close());
test.beforeEach(() => control(E.url, 'reset', {}));

// The shape monday's documentation shows: column_values as a JSON *string*
// passed through a variable of type JSON!, plus aliases.
const DOC = `mutation ($board: ID!, $name: String!, $cv: JSON!) {
  create_item(board_id: $board, item_name: $name, column_values: $cv, create_labels_if_missing: true) {
    id name group { id } column_values { id text value type }
  }
}`;

test('create_item with column_values as a JSON string in variables', async () => {
  const cv = JSON.stringify({
    text_mkr5wya6: 'AAG-1001', long_text_mkr5p0cf: { text: 'A long\ndescription' }, numeric_mkr5cact: '28.86',
    date_mkr5zp5: { date: '2025-06-30' }, date_mkr554yz: '2025-07-01', color_mkr5j5pp: { label: 'Done' },
    dropdown_mkr542p2: { labels: ['GREYSON'] }, dropdown_mkr5tgaa: 'S1, S2',
  });
  const r = await gql(E.url, DOC, { board: ITEMS_BOARD, name: 'STYLE1 NAVY AAG-1001', cv });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.errors, undefined, r.text);
  const it = r.json.data.create_item;
  const cvs = Object.fromEntries(it.column_values.map((c) => [c.id, c]));
  assert.equal(it.group.id, 'topics');
  assert.equal(cvs.text_mkr5wya6.text, 'AAG-1001');
  assert.equal(cvs.long_text_mkr5p0cf.text, 'A long\ndescription');
  assert.equal(cvs.numeric_mkr5cact.text, '28.86');
  assert.deepEqual(JSON.parse(cvs.date_mkr5zp5.value), { date: '2025-06-30' });
  assert.equal(cvs.date_mkr554yz.text, '2025-07-01');
  assert.equal(cvs.color_mkr5j5pp.text, 'Done');
  assert.deepEqual(JSON.parse(cvs.color_mkr5j5pp.value), { index: 1 });
  assert.equal(cvs.dropdown_mkr542p2.text, 'GREYSON');
  assert.equal(cvs.dropdown_mkr5tgaa.text, 'S1, S2');
  assert.equal(cvs.mirror === undefined, true);
  assert.equal(it.column_values.length, 83, 'every non-name column is listed');
});

test('aliased create_item: each alias succeeds or fails on its own (partial data + errors with path)', async () => {
  const q = `mutation {
    ok1: create_item(board_id: ${ITEMS_BOARD}, item_name: "one") { id }
    bad: create_item(board_id: ${ITEMS_BOARD}, item_name: "two", column_values: "{\\"numeric_mkr5cact\\": \\"abc\\"}") { id }
    ok2: create_item(board_id: ${ITEMS_BOARD}, item_name: "three") { id }
  }`;
  const r = await gql(E.url, q);
  assert.equal(r.status, 200);
  assert.ok(r.json.data.ok1.id);
  assert.ok(r.json.data.ok2.id);
  assert.equal(r.json.data.bad, null);
  assert.equal(r.json.errors.length, 1);
  const e = r.json.errors[0];
  assert.deepEqual(e.path, ['bad']);
  assert.equal(e.extensions.code, 'ColumnValueException');
  assert.equal(e.extensions.error_data.column_id, 'numeric_mkr5cact');
  assert.ok(e.locations[0].line >= 2);
  const st = await control(E.url, 'state');
  assert.deepEqual(st.boards.find((b) => b.id === ITEMS_BOARD).items.map((i) => i.name), ['one', 'three']);
});

const BAD = [
  ['numeric_mkr5cact', 'twelve'],
  ['numeric_mkr5cact', '1,000'],
  ['date_mkr5zp5', '2025-02-30'],
  ['date_mkr5zp5', { date: '30/06/2025' }],
  ['date_mkr5zp5', { date: '2025-06-30', time: '25:00:00' }],
  ['color_mkr5j5pp', 'No Such Label'],
  ['color_mkr5j5pp', { index: 17 }],
  ['dropdown_mkr542p2', { labels: ['UNKNOWN CUSTOMER'] }],
  ['dropdown_mkr542p2', { ids: [99] }],
  ['text_mkr5wya6', { nested: 'object' }],
  ['lookup_mkrbrdr1', '5'],
  ['formula_mkrb53jx', '1'],
  ['pulse_id_mkr5pb5q', '1'],
];

test('bad column values fail with ColumnValueException naming the column, item not created', async () => {
  for (const [col, val] of BAD) {
    const r = await gql(E.url, createItemDoc('x', { [col]: val }));
    assert.equal(r.status, 200);
    assert.equal(r.json.data.create_item, null, `${col}=${JSON.stringify(val)}`);
    assert.equal(r.json.errors[0].extensions.code, 'ColumnValueException', `${col}=${JSON.stringify(val)}: ${r.text}`);
    assert.equal(r.json.errors[0].extensions.error_data.column_id, col);
  }
  const st = await control(E.url, 'state');
  assert.equal(st.boards.find((b) => b.id === ITEMS_BOARD).items.length, 0);
});

test('unknown column id -> InvalidColumnIdException; malformed JSON -> JsonParseException', async () => {
  let r = await gql(E.url, createItemDoc('x', { no_such_column: 'x' }));
  assert.equal(r.json.errors[0].extensions.code, 'InvalidColumnIdException');
  assert.equal(r.json.errors[0].extensions.error_data.column_id, 'no_such_column');
  r = await gql(E.url, `mutation { create_item(board_id: ${ITEMS_BOARD}, item_name: "x", column_values: "{not json") { id } }`);
  assert.equal(r.json.errors[0].extensions.code, 'JsonParseException');
});

test('status and dropdown by index/id; create_labels_if_missing adds labels', async () => {
  let r = await gql(E.url, createItemDoc('x', { color_mkr5j5pp: { index: 2 }, color_mkr5yf27: '1' }));
  assert.equal(r.json.errors, undefined, r.text);
  r = await gql(E.url, createItemDoc('y', { dropdown_mkr542p2: { labels: ['GREYSON'] }, color_mkr5j5pp: 'Shipped' }, ', create_labels_if_missing: true'));
  assert.equal(r.json.errors, undefined, r.text);
  const id = r.json.data.create_item.id;
  // The label now exists: by label and by id without create_labels_if_missing.
  r = await gql(E.url, createItemDoc('z', { dropdown_mkr542p2: { ids: [1] }, color_mkr5j5pp: 'Shipped' }));
  assert.equal(r.json.errors, undefined, r.text);
  r = await gql(E.url, `{ items(ids: [${id}]) { column_values(ids: ["dropdown_mkr542p2", "color_mkr5j5pp"]) { id text } } }`);
  assert.deepEqual(r.json.data.items[0].column_values.map((c) => c.text), ['GREYSON', 'Shipped']);
  r = await gql(E.url, `{ boards(ids: [${ITEMS_BOARD}]) { columns(ids: ["color_mkr5j5pp"]) { settings_str } } }`);
  assert.ok(Object.values(JSON.parse(r.json.data.boards[0].columns[0].settings_str).labels).includes('Shipped'));
});

test('checkbox, email and link columns (fixture with those types)', async () => {
  await control(E.url, 'fixture', {
    id: 555, name: 'Types', columns: [
      { id: 'check', title: 'Check', type: 'checkbox' }, { id: 'mail', title: 'Mail', type: 'email' },
      { id: 'site', title: 'Site', type: 'link' },
    ],
  });
  const q = 'mutation ($cv: JSON!) { create_item(board_id: 555, item_name: "t", column_values: $cv) { column_values { id text value } } }';
  let r = await gql(E.url, q, { cv: JSON.stringify({ check: { checked: 'true' }, mail: { email: 'a@b.co', text: 'A' }, site: { url: 'https://x.example', text: 'X' } }) });
  assert.equal(r.json.errors, undefined, r.text);
  const byId = Object.fromEntries(r.json.data.create_item.column_values.map((c) => [c.id, c]));
  assert.equal(byId.check.text, 'v');
  assert.equal(byId.mail.text, 'a@b.co');
  assert.equal(byId.site.text, 'X - https://x.example');
  for (const [col, val] of [['check', { checked: 'maybe' }], ['mail', 'not-an-email'], ['site', { url: 'no spaces allowed here' }]]) {
    r = await gql(E.url, q, { cv: JSON.stringify({ [col]: val }) });
    assert.equal(r.json.errors[0].extensions.code, 'ColumnValueException', col);
    assert.equal(r.json.errors[0].extensions.error_data.column_id, col);
  }
});

test('item names must be 1-255 characters', async () => {
  let r = await gql(E.url, createItemDoc('x'.repeat(255)));
  assert.equal(r.json.errors, undefined);
  r = await gql(E.url, createItemDoc('x'.repeat(256)));
  assert.equal(r.json.errors[0].extensions.code, 'ItemNameTooLongException');
  r = await gql(E.url, createItemDoc(''));
  assert.equal(r.json.errors[0].extensions.code, 'InvalidItemNameException');
});

test('create_subitem lands on the subitems board 9200771505; subitems / parent_item link them', async () => {
  const parent = (await gql(E.url, createItemDoc('ORDER 1'))).json.data.create_item.id;
  const q = `mutation ($p: ID!, $cv: JSON) { create_subitem(parent_item_id: $p, item_name: "Size XL", column_values: $cv, create_labels_if_missing: true) { id board { id } parent_item { id } column_values(ids: ["dropdown_mkrak7qp", "numeric_mkra7j8e"]) { text } } }`;
  let r = await gql(E.url, q, { p: parent, cv: JSON.stringify({ dropdown_mkrak7qp: { labels: ['XL'] }, numeric_mkra7j8e: '12' }) });
  assert.equal(r.json.errors, undefined, r.text);
  const sub = r.json.data.create_subitem;
  assert.equal(sub.board.id, SUBITEMS_BOARD);
  assert.equal(sub.parent_item.id, parent);
  assert.deepEqual(sub.column_values.map((c) => c.text), ['XL', '12']);
  // Subitem columns belong to the subitems board, not the parent's.
  r = await gql(E.url, q, { p: parent, cv: JSON.stringify({ text_mkr5wya6: 'x' }) });
  assert.equal(r.json.errors[0].extensions.code, 'InvalidColumnIdException');
  // Unknown dropdown label without create_labels_if_missing is rejected.
  r = await gql(E.url, `mutation { create_subitem(parent_item_id: ${parent}, item_name: "Size 3XL", column_values: "{\\"dropdown_mkrak7qp\\": {\\"labels\\": [\\"3XL\\"]}}") { id } }`);
  assert.equal(r.json.errors[0].extensions.code, 'ColumnValueException');
  r = await gql(E.url, `{ items(ids: [${parent}]) { subitems { id name } } }`);
  assert.deepEqual(r.json.data.items[0].subitems, [{ id: sub.id, name: 'Size XL' }]);
  // create_item directly on the subitems board is refused.
  r = await gql(E.url, `mutation { create_item(board_id: ${SUBITEMS_BOARD}, item_name: "x") { id } }`);
  assert.equal(r.json.errors[0].extensions.code, 'InvalidBoardIdException');
});

test('change_multiple_column_values, change_simple_column_value, change_column_value', async () => {
  const id = (await gql(E.url, createItemDoc('x', { text_mkr5wya6: 'A' }))).json.data.create_item.id;
  let r = await gql(E.url, `mutation ($cv: JSON!) { change_multiple_column_values(board_id: ${ITEMS_BOARD}, item_id: ${id}, column_values: $cv) { id name } }`,
    { cv: JSON.stringify({ name: 'renamed', text_mkr5wya6: 'B', numeric_mkr5cact: 7 }) });
  assert.equal(r.json.data.change_multiple_column_values.name, 'renamed', r.text);
  r = await gql(E.url, `mutation { change_simple_column_value(board_id: ${ITEMS_BOARD}, item_id: ${id}, column_id: "color_mkr5j5pp", value: "Stuck") { id } }`);
  assert.equal(r.json.errors, undefined, r.text);
  r = await gql(E.url, `mutation { change_column_value(board_id: ${ITEMS_BOARD}, item_id: ${id}, column_id: "date_mkr5zp5", value: "{\\"date\\":\\"2026-01-31\\"}") { id } }`);
  assert.equal(r.json.errors, undefined, r.text);
  r = await gql(E.url, `mutation { change_simple_column_value(board_id: ${ITEMS_BOARD}, item_id: ${id}, column_id: "numeric_mkr5cact", value: "x") { id } }`);
  assert.equal(r.json.errors[0].extensions.code, 'ColumnValueException');
  // Item must belong to the board given.
  r = await gql(E.url, `mutation { change_simple_column_value(board_id: ${SUBITEMS_BOARD}, item_id: ${id}, column_id: "name", value: "y") { id } }`);
  assert.equal(r.json.errors[0].extensions.code, 'ResourceNotFoundException');
  const st = await control(E.url, 'state');
  const it = st.boards.find((b) => b.id === ITEMS_BOARD).items[0];
  assert.equal(it.name, 'renamed');
  assert.equal(it.column_values.text_mkr5wya6.text, 'B');
  assert.equal(it.column_values.numeric_mkr5cact.text, '7');
  assert.equal(it.column_values.color_mkr5j5pp.text, 'Stuck');
  assert.equal(it.column_values.date_mkr5zp5.text, '2026-01-31');
});

test('create_group, move_item_to_group, archive_item, delete_item', async () => {
  const id = (await gql(E.url, createItemDoc('x'))).json.data.create_item.id;
  let r = await gql(E.url, `mutation { create_group(board_id: ${ITEMS_BOARD}, group_name: "GREYSON SS26") { id title } }`);
  const g = r.json.data.create_group;
  assert.equal(g.title, 'GREYSON SS26');
  r = await gql(E.url, `mutation { move_item_to_group(item_id: ${id}, group_id: "${g.id}") { group { id } } }`);
  assert.equal(r.json.data.move_item_to_group.group.id, g.id);
  r = await gql(E.url, `mutation { move_item_to_group(item_id: ${id}, group_id: "nope") { id } }`);
  assert.equal(r.json.errors[0].extensions.code, 'InvalidGroupIdException');
  r = await gql(E.url, `mutation { create_item(board_id: ${ITEMS_BOARD}, group_id: "${g.id}", item_name: "in group") { group { id title } } }`);
  assert.deepEqual(r.json.data.create_item.group, { id: g.id, title: 'GREYSON SS26' });
  r = await gql(E.url, `mutation { archive_item(item_id: ${id}) { id state } }`);
  assert.equal(r.json.data.archive_item.state, 'archived');
  r = await gql(E.url, `{ boards(ids: [${ITEMS_BOARD}]) { items_page { items { name } } } }`);
  assert.deepEqual(r.json.data.boards[0].items_page.items.map((i) => i.name), ['in group']);
  r = await gql(E.url, `mutation { delete_item(item_id: ${id}) { id state } }`);
  assert.equal(r.json.data.delete_item.state, 'deleted');
  r = await gql(E.url, `mutation { delete_item(item_id: ${id}) { id } }`);
  assert.equal(r.json.errors[0].extensions.code, 'ResourceNotFoundException');
});
