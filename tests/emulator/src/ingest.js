'use strict';
// monday's asynchronous bulk import (ingest_items, API 2026-07+):
//   1. ingest_items(board_id, group_id, on_match) -> { job_id, upload_url }
//   2. PUT (or POST) the CSV to upload_url (pre-signed: no Authorization header)
//   3. fetch_job_status(job_id) -> UPLOAD_PENDING | PROCESSING | COMPLETED | REJECTED | FAILED
//
// CSV (RFC 4180, comma-separated, header row required): the header names
// columns by id (or exact title); a `name` column is required. Cell formats:
// text/long_text raw; numbers plain number; date YYYY-MM-DD; status one label;
// dropdown comma-separated labels; email "address"; link "url" or "url text";
// empty cell = no value (left unchanged on an update). At most
// limits.ingest_max_rows data rows (10,000) -> otherwise REJECTED/INVALID_UPLOAD.
// Rows are applied when processing ends, rows_per_second emulated rows/s.
const crypto = require('node:crypto');
const columns = require('./columns');
const { appError } = require('./errors');

const UPLOAD_TTL_MS = 10 * 60 * 1000;
const CSV_TYPES = new Set(['name', 'text', 'long_text', 'numbers', 'date', 'status', 'dropdown', 'email', 'link', 'board_relation']);

function parseCsv(text) {
  const rows = [];
  let row = []; let field = ''; let i = 0; let inQuotes = false; let fieldStarted = false;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  for (; i < text.length; i++) {
    const ch = text[i];
    if (inQuotes) {
      if (ch === '"') {
        if (text[i + 1] === '"') { field += '"'; i++; } else inQuotes = false;
      } else field += ch;
    } else if (ch === '"' && !fieldStarted) { inQuotes = true; fieldStarted = true; }
    else if (ch === '"') { throw new Error(`stray quote in row ${rows.length + 1}`); }
    else if (ch === ',') { row.push(field); field = ''; fieldStarted = false; }
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field); rows.push(row); row = []; field = ''; fieldStarted = false;
    } else { field += ch; fieldStarted = true; }
  }
  if (inQuotes) throw new Error('unterminated quoted field');
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

class Ingest {
  constructor(state, limits, config, clock) {
    this.state = state; this.limits = limits; this.config = config; this.clock = clock;
    this.jobs = new Map();
    this.seq = 1;
  }

  reset() { this.jobs.clear(); }

  create({ boardId, groupId, onMatch, baseUrl }) {
    const board = this.state.board(boardId);
    this.state.group(board, String(groupId));
    if (onMatch) this.state.column(board, onMatch.match_column_id);
    const id = String(7700000000 + this.seq++);
    const sig = crypto.randomBytes(8).toString('hex');
    const job = {
      id, board_id: board.id, group_id: String(groupId), on_match: onMatch || null, sig,
      status: 'UPLOAD_PENDING', created_at: this.clock.now(), counts: null, failure_reason: null, failure_message: null,
      rows: null, header: null, process_start: null, process_end: null, applied: false,
    };
    this.jobs.set(id, job);
    return { job_id: id, upload_url: `${baseUrl}/_emulator/upload/${id}?signature=${sig}` };
  }

  // Handles the CSV upload; returns [httpStatus, bodyText].
  upload(jobId, sig, csvText) {
    const job = this.jobs.get(jobId);
    if (!job || job.sig !== sig) return [403, 'AccessDenied: invalid signature'];
    if (job.status !== 'UPLOAD_PENDING') return [409, 'Conflict: this upload URL was already used'];
    if (this.clock.now() > job.created_at + UPLOAD_TTL_MS) return [403, 'AccessDenied: request has expired'];
    const reject = (msg) => { job.status = 'REJECTED'; job.failure_reason = 'INVALID_UPLOAD'; job.failure_message = msg; return [200, '']; };
    let rows;
    try { rows = parseCsv(csvText); } catch (e) { return reject(`CSV parse failed: ${e.message}`); }
    if (!rows.length) return reject('CSV has no header row');
    const board = this.state.board(job.board_id);
    const header = rows[0].map((h) => h.trim());
    const cols = [];
    for (const h of header) {
      const col = board.columns.find((c) => c.id === h) || board.columns.find((c) => c.title === h);
      if (!col) return reject(`unknown column in header: ${h}`);
      cols.push(col);
    }
    if (!cols.some((c) => c.type === 'name')) return reject('header must contain the name column');
    const data = rows.slice(1);
    const max = this.config.limits.ingest_max_rows;
    if (data.length > max) return reject(`file has ${data.length} rows; the maximum is ${max}`);
    for (let i = 0; i < data.length; i++) {
      if (data[i].length !== cols.length) return reject(`row ${i + 2} has ${data[i].length} fields, header has ${cols.length}`);
    }
    if (data.length > this.limits.itemsRemaining()) {
      job.status = 'FAILED'; job.failure_reason = 'ACCOUNT_CAPACITY_EXCEEDED';
      job.failure_message = 'hourly item create/update budget exceeded';
      job.counts = { submitted: data.length, invalid: 0, skipped: 0, created: 0, updated: 0, failed: data.length };
      return [200, ''];
    }
    job.header = cols.map((c) => c.id);
    job.rows = data;
    job.status = 'PROCESSING';
    job.process_start = this.clock.now();
    const rps = Math.max(1, Number(this.config.ingest.rows_per_second) || 500);
    job.process_end = job.process_start + (data.length / rps) * 1000;
    return [200, ''];
  }

  // Apply rows when the emulated processing time has passed.
  advance(job) {
    if (job.status !== 'PROCESSING' || this.clock.now() < job.process_end) return;
    const board = this.state.board(job.board_id);
    const counts = { submitted: job.rows.length, invalid: 0, skipped: 0, created: 0, updated: 0, failed: 0 };
    const cols = job.header.map((id) => board.columns.find((c) => c.id === id));
    const match = job.on_match;
    const matchIdx = match ? job.header.indexOf(match.match_column_id) : -1;
    for (const row of job.rows) {
      const nameIdx = cols.findIndex((c) => c.type === 'name');
      const name = row[nameIdx];
      const values = {};
      let ok = true;
      for (let i = 0; i < cols.length; i++) {
        const col = cols[i];
        if (col.type === 'name' || row[i] === '') continue;
        if (!CSV_TYPES.has(col.type)) { ok = false; break; }
        values[col.id] = col.type === 'board_relation' ? { item_ids: row[i].split(',').map((s) => s.trim()) } : row[i];
      }
      let prepared;
      if (ok) {
        try {
          columns.checkItemName(name);
          prepared = this.state.prepareValues(board, values, false);
        } catch (e) { ok = false; }
      }
      if (!ok) { counts.invalid++; continue; }
      let existing = null;
      if (match && matchIdx >= 0 && row[matchIdx] !== '') {
        const col = cols[matchIdx];
        existing = this.state.itemsOfBoard(board.id).find((it) => !it.parent_item_id && this.state.textOf(it, col) === row[matchIdx]) || null;
      }
      if (existing) {
        if (match.behaviour === 'SKIP') { counts.skipped++; continue; }
        existing.name = name;
        this.state.applyValues(existing, prepared);
        this.limits.useItems(1);
        counts.updated++;
      } else {
        const it = this.state.createItem(board, { name, groupId: job.group_id, values: {} });
        this.state.applyValues(it, prepared);
        this.limits.useItems(1);
        counts.created++;
      }
    }
    job.counts = counts;
    job.status = 'COMPLETED';
    job.applied = true;
    job.rows = null;
  }

  status(jobId) {
    const job = this.jobs.get(String(jobId));
    if (!job) throw appError('ResourceNotFoundException', `Job ${jobId} not found`, { statusCode: 404, errorData: { resource_type: 'job', resource_id: String(jobId) } });
    this.advance(job);
    let progress = 0;
    if (job.status === 'COMPLETED') progress = 100;
    else if (job.status === 'PROCESSING') {
      const span = Math.max(1, job.process_end - job.process_start);
      progress = Math.min(99, Math.floor(((this.clock.now() - job.process_start) / span) * 100));
    }
    const c = job.counts || { submitted: job.rows ? job.rows.length : 0, invalid: 0, skipped: 0, created: 0, updated: 0, failed: 0 };
    return {
      __typename: 'ItemsJobStatus',
      status: job.status,
      counts: c,
      progress_percentage: progress,
      failure_reason: job.failure_reason,
      failure_message: job.failure_message,
      fully_imported: job.status === 'COMPLETED' ? c.invalid === 0 && c.failed === 0 : false,
    };
  }

  dump() {
    return [...this.jobs.values()].map(({ sig, rows, ...j }) => ({ ...j, pending_rows: rows ? rows.length : 0 }));
  }
}

module.exports = { Ingest, parseCsv };
