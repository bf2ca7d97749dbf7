'use strict';
// HTTP front of the emulator: POST /v2 (GraphQL), the ingest upload URL and
// the /_emulator/ control endpoints.
//
// Order of checks for POST /v2 (first failure answers):
//   auth (401) -> API-Version (400) -> body/JSON (400) -> parse + validate (200 + errors)
//   -> Idempotency-Key (replay / 409) -> daily calls, requests/minute, concurrency (429)
//   -> per-request complexity (200 + errors) -> complexity budget (429)
//   -> mutations/minute (429) -> injected fault -> board lock (423) -> execute
const http = require('node:http');
const crypto = require('node:crypto');
const {
  parse, validate, execute, getOperationAST, getVariableValues, GraphQLError, Kind,
} = require('graphql');
const { loadEmulatorSchema, loadPublishedSchema } = require('./schema');
const { defaults, deepMerge } = require('./config');
const { Clock } = require('./clock');
const { State } = require('./state');
const { Limits } = require('./limits');
const { Faults } = require('./faults');
const { Ingest } = require('./ingest');
const { computeCost, collect } = require('./complexity');
const { makeResolvers, Cursors } = require('./resolvers');
const { errorBody } = require('./errors');

const MAX_BODY = 50 * 1024 * 1024;
// Root fields that exist only from a given API version on.
const FIELD_MIN_VERSION = { ingest_items: '2026-07', fetch_job_status: '2026-07' };

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = []; let n = 0;
    req.on('data', (c) => { n += c.length; if (n > MAX_BODY) { reject(new Error('body too large')); req.destroy(); } else chunks.push(c); });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

class Emulator {
  constructor({ config = {}, fixtures = [], stateFile = null, log = () => {} } = {}) {
    this.config = deepMerge(defaults(), config);
    this.clock = new Clock(this.config.time_scale);
    this.state = new State(this.clock);
    this.limits = new Limits(this.config, this.clock);
    this.faults = new Faults(this.config.faults);
    this.ingest = new Ingest(this.state, this.limits, this.config, this.clock);
    this.cursors = new Cursors();
    this.schema = loadEmulatorSchema();
    this.published = loadPublishedSchema();
    this.fixtures = fixtures;
    this.stateFile = stateFile;
    this.logFn = log;
    this.resetRuntime();
    this.loadInitialState();
    this.resolvers = makeResolvers({
      state: this.state, limits: this.limits, ingest: this.ingest, cursors: this.cursors,
      clock: this.clock, config: this.config, secondsOf: (ms) => this.secondsOf(ms),
    });
  }

  resetRuntime() {
    this.requestLog = [];
    this.idem = new Map();
    this.boardInflight = new Map();
    this.stats = {
      requests: 0, mutation_requests: 0, mutations: 0, by_status: {}, errors_by_code: {},
      overlapping_mutations: {}, max_concurrent_mutations: {}, idempotent_replays: 0, faults: {},
      complexity_used: 0, max_inflight: 0,
    };
    this.seq = 0;
  }

  loadInitialState() {
    const fs = require('node:fs');
    if (this.stateFile && fs.existsSync(this.stateFile)) {
      this.state.load(this.stateFile);
      return;
    }
    for (const f of this.fixtures) this.state.loadFixtureFile(f);
  }

  // Full reset: boards back to the fixtures, counters, budgets, faults PRNG.
  reset() {
    this.state.clear();
    for (const f of this.fixtures) this.state.loadFixtureFile(f);
    this.limits.reset();
    this.faults.reseed(this.config.faults);
    this.ingest.reset();
    this.cursors.reset();
    this.resetRuntime();
    this.saveState();
  }

  configure(patch) {
    deepMerge(this.config, patch || {});
    if (patch && patch.time_scale !== undefined) this.clock.setScale(Number(patch.time_scale));
    if (patch && patch.faults && (patch.faults.seed !== undefined)) this.faults.reseed(this.config.faults);
    this.faults.cfg = this.config.faults;
    if (!Array.isArray(this.config.faults.next)) this.config.faults.next = [];
  }

  saveState() {
    if (this.stateFile && this.state.dirty) {
      try { this.state.save(this.stateFile); } catch (e) { this.logFn(`state save failed: ${e.message}`); }
    }
  }

  secondsOf(emuMs) {
    if (this.config.report_seconds === 'emulated') return Math.max(emuMs > 0 ? 1 : 0, Math.ceil(emuMs / 1000));
    return this.clock.realSeconds(emuMs);
  }

  // ---- HTTP plumbing ------------------------------------------------------
  listen(port = 0, host = '127.0.0.1') {
    this.server = http.createServer((req, res) => {
      this.route(req, res).catch((e) => {
        this.logFn(`internal error: ${e.stack}`);
        if (!res.headersSent) this.sendJson(res, 500, errorBody('INTERNAL_SERVER_ERROR', 'Internal server error', { status_code: 500 }));
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 5000;
    this.saveTimer = setInterval(() => this.saveState(), 1000);
    this.saveTimer.unref();
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const a = this.server.address();
        this.url = `http://${host}:${a.port}`;
        resolve(this.url);
      });
    });
  }

  close() {
    clearInterval(this.saveTimer);
    this.saveState();
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      if (this.server.closeAllConnections) this.server.closeAllConnections();
    });
  }

  sendJson(res, status, body, headers = {}) {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
    return text;
  }

  async route(req, res) {
    const url = new URL(req.url, 'http://x');
    const p = url.pathname;
    if (p === '/v2' || p === '/v2/') {
      if (req.method !== 'POST') return this.sendJson(res, 405, errorBody('METHOD_NOT_ALLOWED', 'Use POST', { status_code: 405 }));
      return this.handleGraphQL(req, res);
    }
    const up = /^\/_emulator\/upload\/(\d+)$/.exec(p);
    if (up && (req.method === 'PUT' || req.method === 'POST')) {
      const body = await readBody(req);
      const [status, text] = this.ingest.upload(up[1], url.searchParams.get('signature'), body);
      this.state.dirty = true;
      res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
      return res.end(text);
    }
    if (p.startsWith('/_emulator/')) return this.handleControl(req, res, p.slice('/_emulator/'.length), url);
    return this.sendJson(res, 404, errorBody('NOT_FOUND', `No route ${req.method} ${p}`, { status_code: 404 }));
  }

  async handleControl(req, res, what, url) {
    let body = null;
    if (req.method === 'POST') {
      const text = await readBody(req);
      try { body = text ? JSON.parse(text) : {}; } catch (e) { return this.sendJson(res, 400, { error: `invalid JSON: ${e.message}` }); }
    }
    switch (`${req.method} ${what}`) {
      case 'GET state': return this.sendJson(res, 200, { ...this.state.dump(), jobs: this.ingest.dump(), now: new Date(this.clock.now()).toISOString() });
      case 'POST reset': this.reset(); return this.sendJson(res, 200, { ok: true });
      case 'POST config': this.configure(body); return this.sendJson(res, 200, { ok: true, config: this.config });
      case 'GET config': return this.sendJson(res, 200, this.config);
      case 'POST fixture': {
        try {
          const boards = body.path ? this.state.loadFixtureFile(body.path) : this.state.loadFixture(body);
          this.saveState();
          return this.sendJson(res, 200, { ok: true, boards: boards.map((b) => b.id) });
        } catch (e) { return this.sendJson(res, 400, { error: e.message }); }
      }
      case 'POST advance': this.clock.advance(Number(body.seconds) || 0); return this.sendJson(res, 200, { ok: true, now: new Date(this.clock.now()).toISOString() });
      case 'GET log': {
        const since = Number(url.searchParams.get('since') || 0);
        return this.sendJson(res, 200, { requests: this.requestLog.filter((e) => e.seq > since), overlapping_mutations: this.stats.overlapping_mutations });
      }
      case 'GET stats': return this.sendJson(res, 200, this.statsSnapshot());
      case 'POST save': this.state.dirty = true; this.saveState(); return this.sendJson(res, 200, { ok: true });
      default: return this.sendJson(res, 404, { error: `unknown control endpoint ${req.method} /_emulator/${what}` });
    }
  }

  statsSnapshot() {
    const tokens = {};
    for (const t of this.limits.complexity.keys()) tokens[t] = this.limits.complexityState(t);
    return {
      ...this.stats,
      faults: { ...this.faults.counts },
      budget: {
        complexity: Object.fromEntries(Object.entries(tokens).map(([t, s]) => [t, { limit: s.limit, remaining: s.remaining, used: s.limit - s.remaining, reset_in_ms_emulated: s.resetMs }])),
        requests_this_minute: this.limits.requests.used,
        mutations_this_minute: this.limits.mutations.used,
        calls_today: this.limits.daily.used,
        items_this_hour: this.limits.items.used,
      },
      inflight: this.limits.inflight,
      items: this.state.items.size,
      time_scale: this.clock.scale,
      now: new Date(this.clock.now()).toISOString(),
    };
  }

  // ---- GraphQL --------------------------------------------------------------
  async handleGraphQL(req, res) {
    const started = Date.now();
    const requestId = crypto.randomUUID();
    const entry = {
      seq: ++this.seq, request_id: requestId, time: new Date(this.clock.now()).toISOString(),
      api_version: null, operation: null, document: null, variables: null, idempotency_key: req.headers['idempotency-key'] || null,
      cost: 0, status: null, error_codes: [], fault: null, boards: [], overlap: false, replayed: false, duration_ms: 0,
    };
    this.stats.requests++;
    this.limits.inflight++;
    this.stats.max_inflight = Math.max(this.stats.max_inflight, this.limits.inflight);
    const token = req.headers.authorization;
    const finish = (status, body, extraHeaders = {}) => {
      entry.status = status;
      entry.duration_ms = Date.now() - started;
      this.stats.by_status[status] = (this.stats.by_status[status] || 0) + 1;
      if (body && Array.isArray(body.errors)) {
        for (const e of body.errors) {
          const code = e.extensions && e.extensions.code;
          if (code) { entry.error_codes.push(code); this.stats.errors_by_code[code] = (this.stats.errors_by_code[code] || 0) + 1; }
        }
      }
      this.pushLog(entry);
      const headers = { ...this.rateHeaders(token), ...extraHeaders };
      return { status, headers, text: body === undefined ? undefined : JSON.stringify(body) };
    };
    let out;
    let idemKey = null;
    try {
      out = await this.processGraphQL(req, res, entry, token, finish, (k) => { idemKey = k; });
    } finally {
      this.limits.inflight--;
    }
    if (!out) return; // connection already handled (reset / truncate)
    if (idemKey && out.cacheable) this.idem.set(idemKey.key, { ...idemKey, state: 'done', status: out.status, headers: out.headers, text: out.text, expires: this.clock.now() + this.config.limits.idempotency_ttl_seconds * 1000 });
    else if (idemKey) this.idem.delete(idemKey.key);
    if (out.destroy) return this.breakConnection(res, out);
    res.writeHead(out.status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(out.text), ...out.headers });
    res.end(out.text);
  }

  breakConnection(res, out) {
    if (out.destroy === 'reset') {
      res.socket.destroy();
      return;
    }
    // Truncated body: announce the full length, send about half, then drop.
    res.writeHead(out.status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(out.text), ...out.headers });
    res.write(out.text.slice(0, Math.max(1, Math.floor(out.text.length / 2))));
    setTimeout(() => res.socket && res.socket.destroy(), 20);
  }

  rateHeaders(token) {
    return this.limits.headers(this.config.tokens.includes(token) ? token : '_anonymous', (ms) => this.secondsOf(ms));
  }

  pushLog(entry) {
    this.requestLog.push(entry);
    const lim = this.config.log_limit || 5000;
    if (this.requestLog.length > lim) this.requestLog.splice(0, this.requestLog.length - lim);
  }

  limitError(token, lim, finish, entry) {
    const secs = this.secondsOf(lim.resetMs);
    const messages = {
      DAILY_LIMIT_EXCEEDED: 'Daily limit exceeded',
      RATE_LIMIT_EXCEEDED: 'Rate Limit Exceeded',
      maxConcurrencyExceeded: 'Max concurrency exceeded',
      COMPLEXITY_BUDGET_EXHAUSTED: 'Complexity budget exhausted',
    };
    const ext = { code: lim.code, retry_in_seconds: secs };
    if (lim.code !== 'COMPLEXITY_BUDGET_EXHAUSTED' || entry.api_version < '2025-07') ext.status_code = 429;
    if (lim.code === 'COMPLEXITY_BUDGET_EXHAUSTED' && entry.api_version < '2025-07') {
      Object.assign(ext, { complexity: entry.cost, complexity_budget_left: lim.remaining, complexity_budget_limit: lim.limit });
    }
    const body = { errors: [{ message: messages[lim.code], extensions: ext }], account_id: this.config.account.id };
    return finish(429, body, { 'Retry-After': String(Math.max(1, secs)) });
  }

  async processGraphQL(req, res, entry, token, finish, setIdem) {
    const acct = this.config.account.id;
    // 1. authentication: the raw token, no "Bearer" prefix.
    if (!token || !this.config.tokens.includes(token)) {
      return finish(401, errorBody('UNAUTHENTICATED', 'Not Authenticated', { status_code: 401 }));
    }
    // Every authenticated call counts toward the call limits, even failing ones.
    this.limits.countCall();
    // 2. API version.
    const av = this.config.api_versions;
    let version = req.headers['api-version'];
    if (version === undefined || version === '') {
      if (av.require_header) return finish(400, errorBody('API_VERSION_REQUIRED', 'The API-Version header is required', { status_code: 400 }, acct));
      version = av.current;
    } else if (version === 'current') version = av.current;
    if (!Object.prototype.hasOwnProperty.call(av.supported, version)) {
      entry.api_version = String(version);
      return finish(400, errorBody('API_VERSION_NOT_SUPPORTED', `API version '${version}' is not supported; supported: ${Object.keys(av.supported).join(', ')}`, { status_code: 400, error_data: { api_version: String(version) } }, acct));
    }
    entry.api_version = version;
    // 3. body.
    let raw;
    try { raw = await readBody(req); } catch (e) { return finish(413, errorBody('PAYLOAD_TOO_LARGE', 'Request body too large', { status_code: 413 }, acct)); }
    let payload;
    try { payload = JSON.parse(raw); } catch (e) {
      return finish(400, errorBody('BAD_REQUEST', `Request body is not valid JSON: ${e.message}`, { status_code: 400 }, acct));
    }
    if (!payload || typeof payload.query !== 'string' || !payload.query.trim()) {
      return finish(400, errorBody('BAD_REQUEST', 'No query string was present', { status_code: 400 }, acct));
    }
    const variables = payload.variables === undefined || payload.variables === null ? {} : payload.variables;
    if (typeof variables === 'string') {
      // Some clients send variables as a JSON string; accept it like monday does.
      try { payload.variables = JSON.parse(variables); } catch (e) { return finish(400, errorBody('BAD_REQUEST', 'variables is not valid JSON', { status_code: 400 }, acct)); }
    }
    entry.document = payload.query;
    entry.variables = payload.variables || null;
    // 4. parse + validate.
    let doc;
    try { doc = parse(payload.query); } catch (e) {
      return finish(200, { errors: [{ message: `Parse error on ${e.message.replace(/^Syntax Error: /, '')}`, locations: e.locations, extensions: { code: 'GRAPHQL_PARSE_FAILED' } }], account_id: acct, extensions: { request_id: entry.request_id } });
    }
    const verrs = this.validateDocument(doc, version);
    if (verrs) return finish(200, { errors: verrs, account_id: acct, extensions: { request_id: entry.request_id } });
    const op = getOperationAST(doc, payload.operationName || undefined);
    if (!op) {
      return finish(200, { errors: [{ message: payload.operationName ? `Unknown operation named "${payload.operationName}".` : 'Must provide operation name if query contains multiple operations.', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }], account_id: acct });
    }
    if (op.operation === 'subscription') {
      return finish(200, { errors: [{ message: 'Subscriptions are not supported', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }], account_id: acct });
    }
    const isMutation = op.operation === 'mutation';
    entry.operation = isMutation ? 'mutation' : 'query';
    // Variables are coerced up front so a bad variable costs nothing.
    const coerced = getVariableValues(this.schema, op.variableDefinitions || [], payload.variables || {});
    if (coerced.errors) {
      return finish(200, { errors: coerced.errors.map((e) => ({ message: e.message, locations: e.locations, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })), account_id: acct, extensions: { request_id: entry.request_id } });
    }
    // 5. idempotency (mutations only, scoped per token).
    const key = req.headers['idempotency-key'];
    if (key && isMutation) {
      const hash = crypto.createHash('sha256').update(JSON.stringify([payload.query, payload.variables || null, payload.operationName || null])).digest('hex');
      const k = `${token}\u0000${key}`;
      const prev = this.idem.get(k);
      if (prev && prev.expires !== undefined && prev.expires < this.clock.now()) this.idem.delete(k);
      const cur = this.idem.get(k);
      if (cur) {
        if (cur.hash !== hash) {
          return finish(409, errorBody('IDEMPOTENCY_KEY_REUSED', 'Idempotency-Key was already used with a different request body', { status_code: 409, error_data: { idempotency_key: key } }, acct));
        }
        if (cur.state === 'in_progress') {
          return finish(409, errorBody('IDEMPOTENCY_REQUEST_IN_PROGRESS', 'A request with this Idempotency-Key is still being processed', { status_code: 409, retry_in_seconds: 1, error_data: { idempotency_key: key } }, acct), { 'Retry-After': '1' });
        }
        entry.replayed = true;
        this.stats.idempotent_replays++;
        finish(cur.status, undefined);
        return { status: cur.status, headers: { ...cur.headers, 'Idempotency-Replayed': 'true' }, text: cur.text };
      }
      this.idem.set(k, { key: k, hash, state: 'in_progress' });
      setIdem({ key: k, hash });
    }
    // 6. call-count limits.
    const callLim = this.limits.checkDaily() || this.limits.checkRequests() || this.limits.checkConcurrency();
    if (callLim) return this.limitError(token, callLim, finish, entry);
    // 7. complexity.
    const { total: cost, perRootField } = computeCost(this.schema, doc, op, coerced.coerced, this.config.costs);
    entry.cost = cost;
    const maxReq = this.config.limits.complexity_per_request;
    if (maxReq !== null && maxReq !== undefined && cost > maxReq) {
      return finish(200, { errors: [{ message: `Query has complexity of ${cost}, which exceeds max complexity of ${maxReq}`, extensions: { code: 'maxComplexityExceeded', complexity: cost, maxComplexity: maxReq } }], account_id: acct, extensions: { request_id: entry.request_id } });
    }
    const cLim = this.limits.checkComplexity(token, cost);
    if (cLim) return this.limitError(token, cLim, finish, entry);
    const mutationFields = isMutation ? perRootField.filter((f) => f.fieldName !== 'complexity' && f.fieldName !== '__typename') : [];
    const mLim = this.limits.checkMutations(mutationFields.length);
    if (mLim) return this.limitError(token, mLim, finish, entry);
    // 8. fault injection.
    const fault = this.faults.pick(isMutation);
    entry.fault = fault ? (fault.kind === '5xx' ? String(fault.status) : fault.kind) : null;
    if (fault) {
      if (fault.kind === '5xx') return this.serverError(fault.status, finish);
      if (fault.kind === '429') {
        const secs = Math.max(1, Number(this.config.faults.retry_in_seconds) || 1);
        return finish(429, { errors: [{ message: 'Rate Limit Exceeded', extensions: { code: 'RATE_LIMIT_EXCEEDED', status_code: 429, retry_in_seconds: secs } }], account_id: acct }, { 'Retry-After': String(secs) });
      }
      if (fault.kind === 'reset_before') { finish(0, undefined); return { destroy: 'reset' }; }
      if (fault.kind === 'timeout') await sleep(Number(this.config.faults.timeout_ms) || 0);
    }
    // 9. board lock / overlap bookkeeping for mutation requests.
    const boards = isMutation ? this.boardsTouched(mutationFields) : [];
    entry.boards = boards;
    if (isMutation && boards.length) {
      const overlapping = boards.filter((b) => (this.boardInflight.get(b) || 0) > 0);
      if (overlapping.length) {
        entry.overlap = true;
        for (const b of overlapping) this.stats.overlapping_mutations[b] = (this.stats.overlapping_mutations[b] || 0) + 1;
        if (this.config.board_lock && this.config.board_lock.mode === '423_on_overlap') {
          return finish(423, { errors: [{ message: 'Board is locked by a concurrent mutation, please retry', extensions: { code: 'RESOURCE_LOCKED', status_code: 423, retry_in_seconds: 1, error_data: { board_ids: overlapping } } }], account_id: acct }, { 'Retry-After': '1' });
        }
      }
    }
    for (const b of boards) {
      const n = (this.boardInflight.get(b) || 0) + 1;
      this.boardInflight.set(b, n);
      this.stats.max_concurrent_mutations[b] = Math.max(this.stats.max_concurrent_mutations[b] || 0, n);
    }
    let result;
    try {
      const delay = (Number(this.config.latency_ms) || 0) + (isMutation ? Number(this.config.mutation_latency_ms) || 0 : 0);
      if (delay > 0) await sleep(delay);
      // 10. charge and execute.
      const before = this.limits.complexityState(token);
      this.limits.chargeComplexity(token, cost);
      this.stats.complexity_used += cost;
      this.limits.chargeMutations(mutationFields.length);
      if (isMutation) { this.stats.mutation_requests++; this.stats.mutations += mutationFields.length; }
      const complexity = {
        before: before.remaining, after: Math.max(0, before.remaining - cost), query: cost,
        reset_in_x_seconds: this.secondsOf(before.resetMs),
      };
      const failKeys = new Set();
      if (fault && fault.kind === 'alias_error') {
        const candidates = perRootField.filter((f) => f.fieldName !== 'complexity' && f.fieldName !== '__typename');
        if (candidates.length) failKeys.add(candidates[this.faults.pickIndex(candidates.length)].responseKey);
      }
      const ctx = { complexity, version: entry.api_version, baseUrl: this.url || '', failKeys };
      result = execute({
        schema: this.schema, document: doc, rootValue: isMutation ? this.resolvers.Mutation : this.resolvers.Query,
        contextValue: ctx, variableValues: payload.variables || {}, operationName: payload.operationName || undefined,
      });
    } finally {
      for (const b of boards) this.boardInflight.set(b, this.boardInflight.get(b) - 1);
    }
    const body = {};
    if (result.data !== undefined) body.data = result.data;
    if (result.errors && result.errors.length) {
      body.errors = result.errors.map((e) => {
        const j = e.toJSON();
        if (!j.extensions || !j.extensions.code) j.extensions = { ...(j.extensions || {}), code: e.originalError && !(e.originalError instanceof GraphQLError) ? 'INTERNAL_SERVER_ERROR' : 'GRAPHQL_VALIDATION_FAILED' };
        if (e.originalError && !(e.originalError instanceof GraphQLError)) this.logFn(`resolver crash: ${e.originalError.stack}`);
        return j;
      });
    }
    body.account_id = acct;
    body.extensions = { request_id: entry.request_id };
    const out = finish(200, body);
    out.cacheable = true;
    if (fault && (fault.kind === 'reset_after' || fault.kind === 'truncate')) {
      out.destroy = fault.kind === 'reset_after' ? 'reset' : 'truncate';
    }
    return out;
  }

  serverError(status, finish) {
    if (status === 500) {
      return finish(500, errorBody('INTERNAL_SERVER_ERROR', 'Internal server error', { status_code: 500 }, this.config.account.id));
    }
    // Gateways answer 502/503/504 with a non-JSON page.
    const names = { 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };
    const out = finish(status, undefined);
    return { status, headers: { ...out.headers, 'Content-Type': 'text/html' }, text: `<html><head><title>${status} ${names[status]}</title></head><body><h1>${status} ${names[status]}</h1></body></html>` };
  }

  // Boards a mutation request touches, for the overlap counter and board lock.
  boardsTouched(fields) {
    const out = new Set();
    for (const f of fields) {
      const a = f.args || {};
      if (a.board_id !== undefined && a.board_id !== null) out.add(String(a.board_id));
      for (const k of ['item_id', 'parent_item_id']) {
        if (a[k] === undefined || a[k] === null) continue;
        const it = this.state.items.get(String(a[k]));
        if (it) out.add(it.board_id);
      }
    }
    return [...out];
  }

  // Validate against the emulator schema; on failure tell apart "monday has
  // it but the emulator does not" from "invalid at monday too".
  validateDocument(doc, version) {
    const errs = validate(this.schema, doc);
    const versionErrs = [];
    for (const def of doc.definitions) {
      if (def.kind !== Kind.OPERATION_DEFINITION) continue;
      for (const f of collect(def.selectionSet, Object.fromEntries(doc.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d])))) {
        const min = FIELD_MIN_VERSION[f.name.value];
        if (min && version < min) {
          const typeName = def.operation === 'mutation' ? 'Mutation' : 'Query';
          versionErrs.push({ message: `Field '${f.name.value}' doesn't exist on type '${typeName}' in API version ${version} (available from ${min})`, locations: [f.loc ? { line: locOf(f).line, column: locOf(f).column } : undefined].filter(Boolean), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
        }
      }
    }
    if (!errs.length && !versionErrs.length) return null;
    if (!errs.length) return versionErrs;
    const validAtMonday = this.published && validate(this.published, doc).length === 0;
    return errs.map((e) => ({
      message: validAtMonday ? `Not implemented by the monhost emulator: ${e.message}` : e.message,
      locations: e.locations,
      extensions: { code: validAtMonday ? 'NOT_IMPLEMENTED_IN_EMULATOR' : 'GRAPHQL_VALIDATION_FAILED' },
    })).concat(versionErrs);
  }
}

function locOf(node) {
  const { source, start } = node.loc;
  const lines = source.body.slice(0, start).split(/\r\n|\r|\n/);
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

module.exports = { Emulator };
