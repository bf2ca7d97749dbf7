'use strict';
// Test helpers: start an emulator on an ephemeral 127.0.0.1 port and talk to
// it over real HTTP (node:http, so resets and truncated bodies are visible).
const http = require('node:http');
const path = require('node:path');
const { Emulator } = require('../src/server');
const { LEGACY_DIR } = require('../src/schema');

const ITEMS_BOARD = '9200517329';
const SUBITEMS_BOARD = '9200771505';
const LEGACY_FIXTURES = ['board_9200517329_metadata.json', 'board_9200771505_metadata.json'].map((f) => path.join(LEGACY_DIR, f));

async function startEmulator(opts = {}) {
  const emu = new Emulator({ fixtures: opts.fixtures || LEGACY_FIXTURES, config: opts.config || {}, stateFile: opts.stateFile || null });
  const url = await emu.listen(0, '127.0.0.1');
  return { emu, url, close: () => emu.close() };
}

// Raw HTTP request; resolves { status, headers, text, json } or
// { error } when the connection breaks; honours a client-side timeout.
function request(url, { method = 'POST', pathName = '/v2', headers = {}, body = null, timeoutMs = 10000 } = {}) {
  return new Promise((resolve) => {
    const u = new URL(pathName, url);
    const req = http.request({ method, hostname: u.hostname, port: u.port, path: u.pathname + u.search, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', (e) => resolve({ error: e.code || e.message, status: res.statusCode, partial: Buffer.concat(chunks).toString('utf8') }));
      res.on('aborted', () => resolve({ error: 'aborted', status: res.statusCode, partial: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(timeoutMs, () => { req.destroy(new Error('client timeout')); });
    req.on('error', (e) => resolve({ error: e.code || e.message }));
    if (body !== null) req.write(typeof body === 'string' ? body : JSON.stringify(body));
    req.end();
  });
}

function gql(url, query, variables, opts = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (opts.token !== null) headers.Authorization = opts.token === undefined ? 'test-token' : opts.token;
  if (opts.version !== null) headers['API-Version'] = opts.version === undefined ? '2026-10' : opts.version;
  if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey;
  Object.assign(headers, opts.headers || {});
  const body = { query };
  if (variables !== undefined) body.variables = variables;
  if (opts.operationName) body.operationName = opts.operationName;
  return request(url, { headers, body, timeoutMs: opts.timeoutMs });
}

async function control(url, what, body) {
  const r = await request(url, {
    method: body === undefined ? 'GET' : 'POST', pathName: `/_emulator/${what}`,
    headers: { 'Content-Type': 'application/json' }, body: body === undefined ? null : body,
  });
  return r.json;
}

function createItemDoc(name, values, extra = '') {
  return `mutation { create_item(board_id: ${ITEMS_BOARD}, item_name: ${JSON.stringify(name)}, column_values: ${JSON.stringify(JSON.stringify(values || {}))}${extra}) { id name } }`;
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

module.exports = { startEmulator, request, gql, control, createItemDoc, sleep, ITEMS_BOARD, SUBITEMS_BOARD, LEGACY_FIXTURES };
