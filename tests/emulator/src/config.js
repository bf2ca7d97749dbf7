'use strict';
// Default configuration and deep merge. Every key can be changed at start
// (--config JSON|FILE) or at run time (POST /_emulator/config).
const fs = require('node:fs');

function defaults() {
  return {
    tokens: ['test-token'],
    account: { id: 4242, name: 'monhost emulator', slug: 'monhost-emu', tier: 'pro' },
    api_versions: {
      // value -> kind; "current" is what a request without API-Version gets.
      supported: {
        '2025-04': 'deprecated', '2025-07': 'old_previous_maintenance', '2025-10': 'old__maintenance',
        '2026-01': 'previous_maintenance', '2026-04': 'maintenance', '2026-07': 'maintenance',
        '2026-10': 'current', '2027-01': 'release_candidate',
      },
      current: '2026-10',
      // true: a missing API-Version header -> 400 API_VERSION_REQUIRED
      // (monday has announced this; today it falls back to the current version).
      require_header: false,
    },
    time_scale: 1,
    // How durations (retry_in_seconds, Retry-After, reset_in_x_seconds,
    // RateLimit t=) are reported: "real" = real seconds the client must wait
    // (ceil, >= 1); "emulated" = emulated seconds.
    report_seconds: 'real',
    limits: {
      complexity_per_request: 5000000,
      complexity_per_minute: 10000000,
      mutations_per_minute: 2000,
      requests_per_minute: 5000,
      daily_calls: null,
      concurrency: 40,
      items_per_hour: null,
      items_page_max_limit: 500,
      ingest_max_rows: 10000,
      idempotency_ttl_seconds: 1800,
    },
    latency_ms: 0,            // artificial processing time for every /v2 request
    mutation_latency_ms: 0,   // extra processing time for mutation requests
    board_lock: { mode: 'off' },  // "off" | "423_on_overlap"
    faults: {
      seed: 1,
      rate_5xx: 0, rate_429: 0, rate_timeout: 0, rate_reset_before: 0, rate_reset_after: 0,
      rate_truncate: 0, rate_alias_error: 0,
      timeout_ms: 65000,
      retry_in_seconds: 1,
      only_mutations: true,
      // Deterministic queue: each eligible request takes the next entry
      // ("500","502","503","504","429","timeout","reset_before","reset_after","truncate","alias_error","none").
      next: [],
    },
    costs: {
      field: 1,                 // every selected field
      list_default: 25,         // multiplier for a list field without ids/limit
      column_values_list: 10,   // multiplier for Item.column_values / Board.columns
      complexity_field: 0,
      mutations: {
        create_item: 10000, create_subitem: 10000, change_multiple_column_values: 10000,
        change_simple_column_value: 10000, change_column_value: 10000, create_group: 10000,
        move_item_to_group: 10000, archive_item: 10000, delete_item: 10000, ingest_items: 10000,
      },
      per_column_value: 500,    // per entry in column_values JSON
    },
    ingest: { rows_per_second: 500 },  // emulated processing speed
    log_limit: 5000,
  };
}

function isPlainObject(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }

function deepMerge(target, src) {
  for (const [k, v] of Object.entries(src || {})) {
    if (isPlainObject(v) && isPlainObject(target[k])) deepMerge(target[k], v);
    else target[k] = v;
  }
  return target;
}

// --config accepts inline JSON or a path to a JSON file.
function parseConfigArg(arg) {
  const s = String(arg).trim();
  if (s.startsWith('{')) return JSON.parse(s);
  return JSON.parse(fs.readFileSync(s, 'utf8'));
}

module.exports = { defaults, deepMerge, parseConfigArg, isPlainObject };
