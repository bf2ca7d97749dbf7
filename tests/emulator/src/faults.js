'use strict';
// Seeded, reproducible fault injection. One PRNG draw per eligible request
// picks at most one fault from the configured rates (in a fixed order), so the
// same seed + same request sequence gives the same faults.
const KINDS = ['5xx', '429', 'timeout', 'reset_before', 'reset_after', 'truncate', 'alias_error'];

function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Faults {
  constructor(cfg) { this.reseed(cfg); }
  reseed(cfg) {
    this.cfg = cfg;
    this.rand = mulberry32(Number(cfg.seed) || 0);
    this.counts = {};
  }
  // Returns null or { kind, status? } for one request.
  pick(isMutation) {
    const cfg = this.cfg;
    if (Array.isArray(cfg.next) && cfg.next.length) {
      if (cfg.only_mutations && !isMutation) return null;
      const k = String(cfg.next.shift());
      if (k === 'none') return null;
      return this.record(/^5\d\d$/.test(k) ? { kind: '5xx', status: Number(k) } : { kind: k });
    }
    if (cfg.only_mutations && !isMutation) return null;
    const total = KINDS.reduce((s, k) => s + (Number(cfg[`rate_${k}`]) || 0), 0);
    if (total <= 0) return null;
    const r = this.rand();
    let acc = 0;
    for (const k of KINDS) {
      acc += Number(cfg[`rate_${k}`]) || 0;
      if (r < acc) {
        if (k === '5xx') {
          const codes = [500, 502, 503, 504];
          return this.record({ kind: '5xx', status: codes[Math.floor(this.rand() * codes.length)] });
        }
        return this.record({ kind: k });
      }
    }
    return null;
  }
  record(f) {
    const key = f.kind === '5xx' ? String(f.status) : f.kind;
    this.counts[key] = (this.counts[key] || 0) + 1;
    return f;
  }
  // For alias_error: which root field fails (deterministic from the PRNG).
  pickIndex(n) { return Math.floor(this.rand() * n); }
}

module.exports = { Faults, mulberry32, KINDS };
