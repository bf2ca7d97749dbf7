'use strict';
// The `start` command: one URL line on stdout, flags, state that survives restarts.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { gql, control, createItemDoc, ITEMS_BOARD, SUBITEMS_BOARD } = require('./helpers');

const START = path.join(__dirname, '..', 'start');

function startProcess(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(START, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = ''; let err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`start timed out: ${err}`)); }, 15000);
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) { clearTimeout(timer); resolve({ child, url: out.split('\n')[0], out: () => out, err: () => err }); }
    });
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => { clearTimeout(timer); if (!out.includes('\n')) reject(new Error(`start exited ${code}: ${err}`)); });
  });
}

function stop(child, sig = 'SIGTERM') {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', (code) => { clearTimeout(t); resolve(code); });
    child.kill(sig);
  });
}

test('start prints exactly one URL line and loads the legacy boards by default', async () => {
  const p = await startProcess(['--port', '0']);
  try {
    assert.match(p.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await gql(p.url, '{ boards { id } }');
    assert.deepEqual(r.json.data.boards.map((b) => b.id).sort(), [ITEMS_BOARD, SUBITEMS_BOARD]);
  } finally {
    assert.equal(await stop(p.child), 0);
  }
  assert.equal(p.out().trim().split('\n').length, 1, 'stdout has only the URL');
});

test('state persists to --state FILE and survives a restart (SIGTERM and SIGINT)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-state-'));
  const file = path.join(dir, 'state.json');
  let p = await startProcess(['--port', '0', '--state', file]);
  let id;
  try {
    id = (await gql(p.url, createItemDoc('persisted', { text_mkr5wya6: 'P-1' }))).json.data.create_item.id;
  } finally { assert.equal(await stop(p.child, 'SIGTERM'), 0); }
  assert.ok(fs.existsSync(file));
  p = await startProcess(['--port', '0', '--state', file]);
  try {
    const r = await gql(p.url, `{ items(ids: [${id}]) { name column_values(ids: ["text_mkr5wya6"]) { text } } }`);
    assert.deepEqual(r.json.data.items, [{ name: 'persisted', column_values: [{ text: 'P-1' }] }]);
    const next = (await gql(p.url, createItemDoc('second'))).json.data.create_item.id;
    assert.ok(BigInt(next) > BigInt(id), 'ids keep increasing across restarts');
  } finally { assert.equal(await stop(p.child, 'SIGINT'), 0); }
  const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal(saved.boards.find((b) => b.id === ITEMS_BOARD).items.length, 2);
});

test('--fixture, --config, --time-scale and --seed flags', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emu-fix-'));
  const fix = path.join(dir, 'board.json');
  fs.writeFileSync(fix, JSON.stringify({ id: 42, name: 'Tiny', columns: [{ id: 'text', title: 'Text', type: 'text' }] }));
  const p = await startProcess(['--port=0', '--fixture', fix, '--config', '{"tokens":["t2"],"limits":{"mutations_per_minute":7}}', '--time-scale', '60', '--seed', '99']);
  try {
    let r = await gql(p.url, '{ boards { id name } }', undefined, { token: 't2' });
    assert.deepEqual(r.json.data.boards, [{ id: '42', name: 'Tiny' }]);
    r = await gql(p.url, '{ me { id } }');
    assert.equal(r.status, 401);
    const cfg = await control(p.url, 'config');
    assert.equal(cfg.time_scale, 60);
    assert.equal(cfg.faults.seed, 99);
    assert.equal(cfg.limits.mutations_per_minute, 7);
    assert.match(r.headers['ratelimit-policy'], /"mutations";q=7;w=60/);
  } finally { assert.equal(await stop(p.child), 0); }
});

test('bad flags exit non-zero with a message', async () => {
  const child = spawn(START, ['--bogus'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 2);
  assert.match(err, /unknown argument --bogus/);
});
