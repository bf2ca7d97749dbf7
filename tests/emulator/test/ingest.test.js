'use strict';
// monday's asynchronous bulk import: ingest_items -> CSV upload -> fetch_job_status.
const test = require('node:test');
const assert = require('node:assert/strict');
const { startEmulator, gql, request, control, createItemDoc, sleep, ITEMS_BOARD } = require('./helpers');

let E;
test.before(async () => { E = await startEmulator(); });
test.after(() => E.close());
test.beforeEach(async () => {
  await control(E.url, 'config', { time_scale: 1, ingest: { rows_per_second: 500 }, limits: { items_per_hour: null, ingest_max_rows: 10000 } });
  await control(E.url, 'reset', {});
});

const START = `mutation ($b: ID!, $g: ID!, $m: OnMatchInput) { ingest_items(board_id: $b, group_id: $g, on_match: $m) { job_id upload_url } }`;
const STATUS = `query ($j: ID!) { fetch_job_status(job_id: $j) { ... on ItemsJobStatus { status progress_percentage failure_reason failure_message fully_imported counts { submitted created updated skipped invalid failed } } } }`;

async function startJob(onMatch) {
  const r = await gql(E.url, START, { b: ITEMS_BOARD, g: 'topics', m: onMatch || null });
  assert.equal(r.json.errors, undefined, r.text);
  return r.json.data.ingest_items;
}

function upload(uploadUrl, csv) {
  const u = new URL(uploadUrl);
  return request(`${u.protocol}//${u.host}`, { method: 'PUT', pathName: u.pathname + u.search, headers: { 'Content-Type': 'text/csv' }, body: csv });
}

async function status(jobId) {
  const r = await gql(E.url, STATUS, { j: jobId });
  assert.equal(r.json.errors, undefined, r.text);
  return r.json.data.fetch_job_status;
}

async function waitDone(jobId) {
  for (let i = 0; i < 100; i++) {
    const s = await status(jobId);
    if (s.status !== 'PROCESSING' && s.status !== 'UPLOAD_PENDING') return s;
    await sleep(20);
  }
  throw new Error('job did not finish');
}

test('ingest: job id + upload URL on this server, CSV upload, PROCESSING then COMPLETED with counts', async () => {
  await control(E.url, 'config', { ingest: { rows_per_second: 10 } });
  const job = await startJob();
  assert.match(job.job_id, /^\d+$/);
  assert.ok(job.upload_url.startsWith(E.url));
  assert.equal((await status(job.job_id)).status, 'UPLOAD_PENDING');
  const csv = 'name,text_mkr5wya6,numeric_mkr5cact,date_mkr5zp5,color_mkr5j5pp\n"STYLE, with comma",A1,1.5,2025-01-02,Done\nSTYLE2,A2,,,\nBAD,A3,notanumber,,\n';
  const up = await upload(job.upload_url, csv);
  assert.equal(up.status, 200);
  const mid = await status(job.job_id);
  assert.equal(mid.status, 'PROCESSING');
  assert.ok(mid.progress_percentage < 100);
  await control(E.url, 'advance', { seconds: 1 });
  const s = await status(job.job_id);
  assert.equal(s.status, 'COMPLETED');
  assert.equal(s.progress_percentage, 100);
  assert.deepEqual(s.counts, { submitted: 3, created: 2, updated: 0, skipped: 0, invalid: 1, failed: 0 });
  assert.equal(s.fully_imported, false);
  const st = await control(E.url, 'state');
  const items = st.boards.find((b) => b.id === ITEMS_BOARD).items;
  assert.deepEqual(items.map((i) => i.name), ['STYLE, with comma', 'STYLE2']);
  assert.equal(items[0].column_values.color_mkr5j5pp.text, 'Done');
  assert.equal(items[0].column_values.numeric_mkr5cact.text, '1.5');
  // The URL is single-use.
  assert.equal((await upload(job.upload_url, csv)).status, 409);
});

test('ingest on_match UPSERT updates matching items, SKIP skips them', async () => {
  const existing = (await gql(E.url, createItemDoc('old name', { text_mkr5wya6: 'K1', numeric_mkr5cact: '1' }))).json.data.create_item.id;
  let job = await startJob({ match_column_id: 'text_mkr5wya6', behaviour: 'UPSERT' });
  await upload(job.upload_url, 'name,text_mkr5wya6,numeric_mkr5cact\nnew name,K1,2\nfresh,K2,3\n');
  let s = await waitDone(job.job_id);
  assert.deepEqual(s.counts, { submitted: 2, created: 1, updated: 1, skipped: 0, invalid: 0, failed: 0 });
  assert.equal(s.fully_imported, true);
  let st = await control(E.url, 'state');
  let items = st.boards.find((b) => b.id === ITEMS_BOARD).items;
  const upd = items.find((i) => i.id === existing);
  assert.equal(upd.name, 'new name');
  assert.equal(upd.column_values.numeric_mkr5cact.text, '2');
  job = await startJob({ match_column_id: 'text_mkr5wya6', behaviour: 'SKIP' });
  await upload(job.upload_url, 'name,text_mkr5wya6\nskip me,K1\nskip me too,K2\nnew,K3\n');
  s = await waitDone(job.job_id);
  assert.deepEqual(s.counts, { submitted: 3, created: 1, updated: 0, skipped: 2, invalid: 0, failed: 0 });
  st = await control(E.url, 'state');
  items = st.boards.find((b) => b.id === ITEMS_BOARD).items;
  assert.equal(items.length, 3);
});

test('ingest rejects more than 10,000 rows, unknown columns and missing name column', async () => {
  const rows = ['name'];
  for (let i = 0; i < 10001; i++) rows.push(`item ${i}`);
  let job = await startJob();
  await upload(job.upload_url, rows.join('\n'));
  let s = await status(job.job_id);
  assert.equal(s.status, 'REJECTED');
  assert.equal(s.failure_reason, 'INVALID_UPLOAD');
  assert.match(s.failure_message, /10000/);
  job = await startJob();
  await upload(job.upload_url, 'name,nope\nx,y\n');
  assert.equal((await status(job.job_id)).status, 'REJECTED');
  job = await startJob();
  await upload(job.upload_url, 'text_mkr5wya6\nx\n');
  assert.equal((await status(job.job_id)).status, 'REJECTED');
  // Exactly 10,000 rows is fine.
  job = await startJob();
  await upload(job.upload_url, rows.slice(0, 10001).join('\n'));
  await control(E.url, 'advance', { seconds: 60 });
  s = await status(job.job_id);
  assert.equal(s.status, 'COMPLETED');
  assert.equal(s.counts.created, 10000);
});

test('ingest counts against the hourly item budget -> FAILED / ACCOUNT_CAPACITY_EXCEEDED', async () => {
  await control(E.url, 'config', { limits: { items_per_hour: 2 } });
  const job = await startJob();
  await upload(job.upload_url, 'name\na\nb\nc\n');
  const s = await status(job.job_id);
  assert.equal(s.status, 'FAILED');
  assert.equal(s.failure_reason, 'ACCOUNT_CAPACITY_EXCEEDED');
  assert.equal(s.counts.failed, 3);
});

test('ingest errors: bad signature 403, unknown job, unknown match column', async () => {
  const job = await startJob();
  assert.equal((await upload(job.upload_url.replace(/signature=\w+/, 'signature=bad'), 'name\nx\n')).status, 403);
  let r = await gql(E.url, STATUS, { j: '123' });
  assert.equal(r.json.errors[0].extensions.code, 'ResourceNotFoundException');
  r = await gql(E.url, START, { b: ITEMS_BOARD, g: 'topics', m: { match_column_id: 'nope', behaviour: 'UPSERT' } });
  assert.equal(r.json.errors[0].extensions.code, 'InvalidColumnIdException');
  r = await gql(E.url, START, { b: ITEMS_BOARD, g: 'nope' });
  assert.equal(r.json.errors[0].extensions.code, 'InvalidGroupIdException');
});
