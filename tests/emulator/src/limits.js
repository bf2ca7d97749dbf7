'use strict';
// Rate limits and budgets, all measured on the emulated clock.
//   complexity_per_minute  per token, window starts at the token's first call (monday: resets 60 s after it)
//   requests_per_minute    per account, same kind of window
//   mutations_per_minute   per account, counts every mutation root field (aliases count separately)
//   daily_calls            per account, resets at midnight UTC
//   items_per_hour         per account, item creates/updates (create_item, create_subitem, change_*, ingest rows)
//   concurrency            requests in flight per account
const MINUTE = 60000;
const HOUR = 3600000;

class Window {
  constructor(lengthMs) { this.lengthMs = lengthMs; this.start = null; this.used = 0; }
  roll(now) {
    if (this.start === null || now >= this.start + this.lengthMs) { this.start = now; this.used = 0; }
  }
  resetInMs(now) { return this.start === null ? this.lengthMs : Math.max(0, this.start + this.lengthMs - now); }
}

class DailyWindow extends Window {
  constructor() { super(86400000); }
  roll(now) {
    const day = Math.floor(now / 86400000);
    if (this.day !== day) { this.day = day; this.start = day * 86400000; this.used = 0; }
  }
}

class Limits {
  constructor(config, clock) {
    this.config = config;
    this.clock = clock;
    this.reset();
  }
  reset() {
    this.complexity = new Map();  // token -> Window
    this.requests = new Window(MINUTE);
    this.mutations = new Window(MINUTE);
    this.daily = new DailyWindow();
    this.items = new Window(HOUR);
    this.inflight = 0;
  }
  get l() { return this.config.limits; }
  now() { return this.clock.now(); }

  complexityWindow(token) {
    if (!this.complexity.has(token)) this.complexity.set(token, new Window(MINUTE));
    const w = this.complexity.get(token);
    w.roll(this.now());
    return w;
  }

  // Snapshot for the complexity field and the RateLimit headers.
  complexityState(token) {
    const w = this.complexityWindow(token);
    const limit = this.l.complexity_per_minute;
    return { limit, remaining: Math.max(0, limit - w.used), resetMs: w.resetInMs(this.now()) };
  }

  // Each check returns null or { code, resetMs, ... }. Counting the call itself
  // happens in countCall (monday counts failed calls too).
  countCall() {
    const now = this.now();
    this.requests.roll(now); this.daily.roll(now);
    this.requests.used++; this.daily.used++;
  }
  checkDaily() {
    const lim = this.l.daily_calls;
    if (lim === null || lim === undefined) return null;
    if (this.daily.used > lim) return { code: 'DAILY_LIMIT_EXCEEDED', resetMs: this.daily.resetInMs(this.now()), limit: lim };
    return null;
  }
  checkRequests() {
    const lim = this.l.requests_per_minute;
    if (lim === null || lim === undefined) return null;
    if (this.requests.used > lim) return { code: 'RATE_LIMIT_EXCEEDED', resetMs: this.requests.resetInMs(this.now()), limit: lim };
    return null;
  }
  checkConcurrency() {
    const lim = this.l.concurrency;
    if (lim === null || lim === undefined) return null;
    if (this.inflight > lim) return { code: 'maxConcurrencyExceeded', resetMs: 1000 * this.clock.scale, limit: lim };
    return null;
  }
  checkComplexity(token, cost) {
    const w = this.complexityWindow(token);
    const lim = this.l.complexity_per_minute;
    if (lim !== null && lim !== undefined && w.used + cost > lim) {
      return { code: 'COMPLEXITY_BUDGET_EXHAUSTED', resetMs: w.resetInMs(this.now()), limit: lim, remaining: lim - w.used };
    }
    return null;
  }
  chargeComplexity(token, cost) { this.complexityWindow(token).used += cost; }
  checkMutations(n) {
    const lim = this.l.mutations_per_minute;
    this.mutations.roll(this.now());
    if (n > 0 && lim !== null && lim !== undefined && this.mutations.used + n > lim) {
      return { code: 'RATE_LIMIT_EXCEEDED', resetMs: this.mutations.resetInMs(this.now()), limit: lim };
    }
    return null;
  }
  chargeMutations(n) { this.mutations.roll(this.now()); this.mutations.used += n; }
  // Hourly item create/update budget (off when items_per_hour is null).
  itemsRemaining() {
    const lim = this.l.items_per_hour;
    if (lim === null || lim === undefined) return Infinity;
    this.items.roll(this.now());
    return Math.max(0, lim - this.items.used);
  }
  useItems(n) { this.items.roll(this.now()); this.items.used += n; }
  itemsResetMs() { return this.items.resetInMs(this.now()); }

  // IETF draft (draft-ietf-httpapi-ratelimit-headers) RateLimit-Policy / RateLimit.
  headers(token, secondsOf) {
    const now = this.now();
    const c = this.complexityState(token);
    this.requests.roll(now); this.mutations.roll(now); this.daily.roll(now);
    const pol = [
      ['complexity', c.limit, 60, c.remaining, c.resetMs],
      ['requests', this.l.requests_per_minute, 60, this.l.requests_per_minute - this.requests.used, this.requests.resetInMs(now)],
      ['mutations', this.l.mutations_per_minute, 60, this.l.mutations_per_minute - this.mutations.used, this.mutations.resetInMs(now)],
    ];
    if (this.l.daily_calls !== null && this.l.daily_calls !== undefined) {
      pol.push(['daily', this.l.daily_calls, 86400, this.l.daily_calls - this.daily.used, this.daily.resetInMs(now)]);
    }
    const live = pol.filter((p) => p[1] !== null && p[1] !== undefined);
    return {
      'RateLimit-Policy': live.map(([n, q, w]) => `"${n}";q=${q};w=${w}`).join(', '),
      RateLimit: live.map(([n, , , r, t]) => `"${n}";r=${Math.max(0, r)};t=${secondsOf(t)}`).join(', '),
    };
  }
}

module.exports = { Limits, Window };
