'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { buildSchema } = require('graphql');
const { loadEmulatorSchema, loadPublishedSchema, checkSubset, DEFAULT_PUBLISHED_PATH } = require('../src/schema');

const VALIDATE = path.join(__dirname, '..', 'validate');

test('published schema is where the default path says', () => {
  assert.ok(fs.existsSync(DEFAULT_PUBLISHED_PATH), `missing ${DEFAULT_PUBLISHED_PATH}`);
});

test('emulator schema is a subset of the published schema (types, nullability, args, defaults, enum values)', () => {
  const problems = checkSubset(loadEmulatorSchema(), loadPublishedSchema(DEFAULT_PUBLISHED_PATH));
  assert.deepEqual(problems, []);
});

test('the subset check catches a wrong nullability, a missing field and a missing enum value', () => {
  const bad = buildSchema(`
    type Query { boards(ids: [ID!]): [Board] }
    type Board { id: ID name: String! not_a_field: Int }
    enum State { active bogus }
  `);
  const problems = checkSubset(bad, loadPublishedSchema(DEFAULT_PUBLISHED_PATH));
  assert.ok(problems.some((p) => p.includes('Board.id') && p.includes('ID!')), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('Board.not_a_field')), problems.join('\n'));
  assert.ok(problems.some((p) => p.includes('State.bogus')), problems.join('\n'));
});

function runValidate(args, { input, env } = {}) {
  return spawnSync(VALIDATE, args, { input, env: { ...process.env, ...(env || {}) }, encoding: 'utf8', timeout: 30000 });
}

test('validate CLI: files, several files, stdin, exit codes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-validate-'));
  const ok = path.join(dir, 'ok.graphql');
  const bad = path.join(dir, 'bad.graphql');
  fs.writeFileSync(ok, 'mutation ($b: ID!, $cv: JSON) { create_item(board_id: $b, item_name: "x", column_values: $cv) { id } complexity { query before after reset_in_x_seconds } }');
  fs.writeFileSync(bad, 'query { boards { id nope } }');
  let r = runValidate([ok]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  r = runValidate([ok, bad]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /bad\.graphql:1:\d+: Cannot query field "nope"/);
  r = runValidate(['-'], { input: '{ me { id name } }' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  r = runValidate(['-'], { input: '{ me { id ' });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /Syntax Error/);
  r = runValidate([path.join(dir, 'missing.graphql')]);
  assert.equal(r.status, 2);
});

test('validate CLI: --json request bodies check variables too', () => {
  const q = 'mutation ($b: ID!) { create_item(board_id: $b, item_name: "x") { id } }';
  let r = runValidate(['--json', '-'], { input: JSON.stringify({ query: q, variables: { b: '1' } }) });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  r = runValidate(['--json', '-'], { input: JSON.stringify({ query: q, variables: {} }) });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /variables: Variable "\$b"/);
  r = runValidate(['--json', '-'], { input: 'not json' });
  assert.equal(r.status, 1);
});

test('validate CLI: --schema and MONDAY_SCHEMA override the schema', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-validate-'));
  const tiny = path.join(dir, 'tiny.graphql');
  fs.writeFileSync(tiny, 'type Query { hello: String }');
  let r = runValidate(['--schema', tiny, '-'], { input: '{ hello }' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  r = runValidate(['-'], { input: '{ hello }', env: { MONDAY_SCHEMA: tiny } });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  r = runValidate(['-'], { input: '{ hello }' });
  assert.equal(r.status, 1);
  r = runValidate(['--schema', path.join(dir, 'nope.graphql'), '-'], { input: '{ hello }' });
  assert.equal(r.status, 2);
});
