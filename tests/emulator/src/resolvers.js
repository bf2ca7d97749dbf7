'use strict';
// Root resolvers and object views over the State store.
// Objects returned here are plain objects whose fields are values or
// functions (graphql-js calls them as (args, context, info)).
const crypto = require('node:crypto');
const columns = require('./columns');
const { appError, notFound } = require('./errors');

const CURSOR_TTL_MS = 60 * 60 * 1000;

class Cursors {
  constructor() { this.map = new Map(); }
  reset() { this.map.clear(); }
  // Remember the remaining ids of a listing; the cursor is an opaque token.
  make(ids, now) {
    if (!ids.length) return null;
    const c = `MSw${crypto.randomBytes(12).toString('base64url')}`;
    this.map.set(c, { ids, expires: now + CURSOR_TTL_MS });
    return c;
  }
  take(c, now) {
    const e = this.map.get(c);
    if (!e || e.expires < now) {
      throw appError('CursorException', 'CursorExpiredError: The cursor provided has expired or is invalid', { errorData: { cursor: c } });
    }
    return e.ids;
  }
}

function checkLimit(limit, max) {
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw appError('InvalidArgumentException', `limit must be between 1 and ${max}`, { statusCode: 400, errorData: { argument: 'limit', value: limit, max } });
  }
}

function compareVals(cv) { return (Array.isArray(cv) ? cv : [cv]).map((v) => String(v)); }

// Evaluate one items_page rule against an item.
function ruleMatches(state, board, item, rule) {
  let text; let keys = [];
  if (rule.column_id === 'name') text = item.name;
  else if (rule.column_id === 'group') { text = item.group_id; }
  else {
    const col = state.column(board, rule.column_id);
    text = state.textOf(item, col);
    const v = item.values[col.id];
    if (col.type === 'status' && v) keys = [String(v.index)];
    if (col.type === 'dropdown' && v) keys = v.ids.map(String);
    if (col.type === 'dropdown') keys = keys.concat(text ? text.split(', ') : []);
  }
  const vals = compareVals(rule.compare_value);
  const op = rule.operator || 'any_of';
  const hit = vals.some((x) => x === text || keys.includes(x));
  const num = parseFloat(text); const cmp = parseFloat(vals[0]);
  const lc = (text || '').toLowerCase(); const needle = (vals[0] || '').toLowerCase();
  switch (op) {
    case 'any_of': return hit;
    case 'not_any_of': return !hit;
    case 'is_empty': return text === '' || text === null;
    case 'is_not_empty': return !(text === '' || text === null);
    case 'greater_than': return text !== '' && num > cmp;
    case 'greater_than_or_equals': return text !== '' && num >= cmp;
    case 'lower_than': return text !== '' && num < cmp;
    case 'lower_than_or_equal': return text !== '' && num <= cmp;
    case 'contains_text': return lc.includes(needle);
    case 'not_contains_text': return !lc.includes(needle);
    case 'starts_with': return lc.startsWith(needle);
    case 'ends_with': return lc.endsWith(needle);
    default: return false;
  }
}

function groupMatches(state, board, item, g) {
  const parts = [];
  for (const r of g.rules || []) parts.push(ruleMatches(state, board, item, r));
  for (const sub of g.groups || []) parts.push(groupMatches(state, board, item, sub));
  if (!parts.length) return true;
  return (g.operator || 'and') === 'or' ? parts.some(Boolean) : parts.every(Boolean);
}

function makeResolvers(ctx0) {
  const { state, limits, ingest, cursors, clock, config } = ctx0;

  const views = {
    board(b) {
      return {
        id: b.id, name: b.name, state: b.state, board_kind: b.board_kind, description: b.description,
        item_terminology: b.item_terminology, workspace_id: b.workspace_id,
        items_count: () => state.itemsOfBoard(b.id).length,
        columns: ({ ids, types }) => b.columns
          .filter((c) => (!ids || ids.includes(c.id)) && (!types || types.includes(c.type)))
          .map((c) => views.column(c)),
        groups: ({ ids }) => b.groups.filter((g) => !g.deleted && (!ids || ids.includes(g.id))).map((g) => views.group(b, g)),
        top_group: () => views.group(b, state.topGroup(b)),
        items_page: (args) => itemsPage(b, null, args),
      };
    },
    column(c) {
      return {
        id: c.id, title: c.title, type: c.type, description: c.description, archived: !!c.archived,
        settings: () => c.settings, settings_str: () => JSON.stringify(c.settings || {}),
      };
    },
    group(b, g) {
      return {
        id: g.id, title: g.title, color: g.color, position: g.position, archived: g.archived, deleted: g.deleted,
        items_page: (args) => itemsPage(b, g.id, args),
      };
    },
    item(it) {
      const board = state.boards.get(it.board_id);
      return {
        id: it.id, name: it.name, state: it.state, created_at: it.created_at, updated_at: it.updated_at, creator_id: it.creator_id,
        board: () => views.board(board),
        group: () => { const g = board.groups.find((x) => x.id === it.group_id); return g ? views.group(board, g) : null; },
        column_values: ({ ids, types }) => board.columns
          .filter((c) => c.type !== 'name' && (!ids || ids.includes(c.id)) && (!types || types.includes(c.type)))
          .map((c) => views.columnValue(it, c)),
        subitems: () => state.subitemsOf(it).map((s) => views.item(s)),
        parent_item: () => (it.parent_item_id && state.items.has(it.parent_item_id) ? views.item(state.items.get(it.parent_item_id)) : null),
      };
    },
    columnValue(it, c) {
      const stored = it.values[c.id];
      const text = state.textOf(it, c);
      let value = stored === undefined || stored === null ? null : JSON.stringify(stored);
      if (c.type === 'item_id') value = JSON.stringify({ item_id: Number(it.id) });
      const base = {
        __typename: columns.TYPE_TO_GRAPHQL[c.type] || 'TextValue',
        id: c.id, type: c.type, text: text === '' && stored === undefined && !['item_id', 'last_updated', 'subtasks'].includes(c.type) ? null : text,
        value, is_leaf: true, column: () => views.column(c),
      };
      switch (c.type) {
        case 'numbers': base.number = stored === undefined ? null : Number(stored); break;
        case 'date': base.date = stored ? stored.date : null; base.time = stored && stored.time ? stored.time : null; break;
        case 'status': base.index = stored ? stored.index : null; base.label = stored ? text : null; base.is_done = stored ? stored.index === 1 : false; break;
        case 'dropdown': base.values = stored ? stored.ids.map((id) => ({ id: String(id), label: (columns.dropdownLabels(c).find((o) => o.id === id) || {}).name || '' })) : []; break;
        case 'checkbox': base.checked = !!(stored && stored.checked === 'true'); break;
        case 'email': base.email = stored ? stored.email : null; base.label = stored ? stored.text : null; break;
        case 'link': base.url = stored ? stored.url : null; base.url_text = stored ? stored.text : null; break;
        case 'mirror': case 'formula': base.display_value = text || ''; break;
        case 'item_id': base.item_id = it.id; break;
        case 'last_updated': base.updated_at = it.updated_at; break;
        case 'subtasks': base.display_value = text; base.subitems_ids = state.subitemsOf(it).map((s) => s.id); break;
        case 'board_relation': base.display_value = text; base.linked_item_ids = stored ? stored.linkedPulseIds.map((l) => String(l.linkedPulseId)) : []; break;
        default: break;
      }
      return base;
    },
  };

  function page(ids, limit) {
    const now = clock.now();
    const slice = ids.slice(0, limit);
    const rest = ids.slice(limit);
    return {
      cursor: cursors.make(rest, now),
      items: slice.map((id) => state.items.get(id)).filter((it) => it && it.state !== 'deleted').map((it) => views.item(it)),
    };
  }

  function itemsPage(board, groupId, { limit, cursor, query_params: qp }) {
    checkLimit(limit, config.limits.items_page_max_limit);
    if (cursor) return page(cursors.take(cursor, clock.now()), limit);
    let items = state.itemsOfBoard(board.id, { groupId });
    if (qp) {
      if (qp.ids) { const want = new Set(qp.ids.map(String)); items = items.filter((it) => want.has(it.id)); }
      if ((qp.rules && qp.rules.length) || (qp.groups && qp.groups.length)) items = items.filter((it) => groupMatches(state, board, it, qp));
      if (qp.order_by && qp.order_by.length) {
        const ob = qp.order_by[0];
        const col = ob.column_id === 'name' ? null : state.column(board, ob.column_id);
        const key = (it) => (col ? state.textOf(it, col) : it.name);
        items = items.slice().sort((a, b) => {
          const ka = key(a); const kb = key(b);
          const na = parseFloat(ka); const nb = parseFloat(kb);
          const r = !Number.isNaN(na) && !Number.isNaN(nb) ? na - nb : String(ka).localeCompare(String(kb));
          return ob.direction === 'desc' ? -r : r;
        });
      }
    }
    return page(items.map((it) => it.id), limit);
  }

  function itemsBudget(n) {
    if (limits.itemsRemaining() < n) {
      const secs = ctx0.secondsOf(limits.itemsResetMs());
      throw appError('ITEMS_LIMIT_EXCEEDED', 'Hourly limit of item creates/updates for the account was exceeded', {
        statusCode: 429, errorData: { limit: config.limits.items_per_hour }, extra: { retry_in_seconds: secs },
      });
    }
  }

  function itemOnBoard(boardId, itemId) {
    const board = state.board(boardId);
    const it = state.item(itemId);
    if (it.board_id !== board.id) throw notFound('item', itemId);
    return { board, it };
  }

  function parseJsonValue(v) {
    if (typeof v !== 'string') return v;
    try { return JSON.parse(v); } catch (e) {
      throw appError('JsonParseException', `value is not valid JSON: ${e.message}`, { statusCode: 400, errorData: { value: v } });
    }
  }

  const Query = {
    boards({ ids, limit, page: pg, state: st }) {
      let list = [...state.boards.values()];
      if (ids) { const want = ids.map(String); list = list.filter((b) => want.includes(b.id)); }
      if (st && st !== 'all') list = list.filter((b) => b.state === st);
      const start = (Math.max(1, pg || 1) - 1) * (limit || 25);
      return list.slice(start, start + (limit || 25)).map((b) => views.board(b));
    },
    items({ ids, limit, page: pg, newest_first: newest, exclude_nonactive: excl }) {
      if (ids && ids.length > 100) throw appError('InvalidArgumentException', 'items(ids:) accepts at most 100 ids', { statusCode: 400, errorData: { argument: 'ids', max: 100 } });
      let list = ids ? ids.map((id) => state.items.get(String(id))).filter(Boolean) : [...state.items.values()];
      list = list.filter((it) => it.state !== 'deleted' && (!excl || it.state === 'active'));
      if (newest) list = list.slice().reverse();
      if (!ids) { const start = (Math.max(1, pg || 1) - 1) * (limit || 25); list = list.slice(start, start + (limit || 25)); }
      return list.map((it) => views.item(it));
    },
    items_page_by_column_values({ board_id: boardId, columns: colq, cursor, limit }) {
      checkLimit(limit, config.limits.items_page_max_limit);
      if (cursor) return page(cursors.take(cursor, clock.now()), limit);
      const board = state.board(boardId);
      const conds = (colq || []).map((q) => ({ col: q.column_id === 'name' ? null : state.column(board, q.column_id), vals: q.column_values.map((v) => (v === null ? '' : String(v))) }));
      const items = state.itemsOfBoard(board.id).filter((it) => conds.every(({ col, vals }) => {
        const text = col ? state.textOf(it, col) : it.name;
        if (col && col.type === 'dropdown') return text.split(', ').some((t) => vals.includes(t)) || (text === '' && vals.includes(''));
        return vals.includes(text);
      }));
      return page(items.map((it) => it.id), limit);
    },
    next_items_page({ cursor, limit }) {
      checkLimit(limit, config.limits.items_page_max_limit);
      return page(cursors.take(cursor, clock.now()), limit);
    },
    complexity(args, ctx) { return ctx.complexity; },
    me() {
      const a = config.account;
      return { id: '1', name: 'Emulator User', email: 'emulator@example.invalid', account: { id: String(a.id), name: a.name, slug: a.slug, tier: a.tier } };
    },
    version(args, ctx) { return versionObj(ctx.version); },
    versions() { return Object.keys(config.api_versions.supported).map(versionObj); },
    fetch_job_status({ job_id: jobId }) { return ingest.status(jobId); },
  };

  function versionObj(v) {
    const kind = config.api_versions.supported[v] || 'current';
    const display = kind.split('_').filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join(' ');
    return { value: v, kind, display_name: display };
  }

  const Mutation = {
    complexity(args, ctx) { return ctx.complexity; },
    create_item({ board_id: boardId, item_name: name, column_values: cv, group_id: groupId, create_labels_if_missing: cl }) {
      const board = state.board(boardId);
      if (board.parent_board_id) {
        throw appError('InvalidBoardIdException', 'This board is a subitems board; use create_subitem', { errorData: { board_id: board.id } });
      }
      const values = columns.parseColumnValuesArg(cv);
      columns.checkItemName(name);
      itemsBudget(1);
      const it = state.createItem(board, { name, groupId, values, createLabels: !!cl });
      limits.useItems(1);
      return views.item(it);
    },
    create_subitem({ parent_item_id: pid, item_name: name, column_values: cv, create_labels_if_missing: cl }) {
      const parent = state.item(pid);
      const values = columns.parseColumnValuesArg(cv);
      columns.checkItemName(name);
      itemsBudget(1);
      const it = state.createSubitem(parent, { name, values, createLabels: !!cl });
      limits.useItems(1);
      return views.item(it);
    },
    change_multiple_column_values({ board_id: boardId, item_id: itemId, column_values: cv, create_labels_if_missing: cl }) {
      const { board, it } = itemOnBoard(boardId, itemId);
      const values = columns.parseColumnValuesArg(cv);
      const prepared = state.prepareValues(board, values, !!cl);
      itemsBudget(1);
      state.applyValues(it, prepared);
      limits.useItems(1);
      return views.item(it);
    },
    change_simple_column_value({ board_id: boardId, item_id: itemId, column_id: colId, value, create_labels_if_missing: cl }) {
      const { board, it } = itemOnBoard(boardId, itemId);
      const col = state.column(board, colId);
      const v = col.type === 'name' ? columns.normalize(col, value, {}) : columns.normalizeSimple(col, value, { createLabels: !!cl });
      itemsBudget(1);
      state.applyValues(it, [[col, v]]);
      limits.useItems(1);
      return views.item(it);
    },
    change_column_value({ board_id: boardId, item_id: itemId, column_id: colId, value, create_labels_if_missing: cl }) {
      const { board, it } = itemOnBoard(boardId, itemId);
      const col = state.column(board, colId);
      const v = columns.normalize(col, parseJsonValue(value), { createLabels: !!cl, itemExists: (i) => state.items.has(i) });
      itemsBudget(1);
      state.applyValues(it, [[col, v]]);
      limits.useItems(1);
      return views.item(it);
    },
    create_group({ board_id: boardId, group_name: name, group_color: color }) {
      const board = state.board(boardId);
      return views.group(board, state.createGroup(board, name, color));
    },
    move_item_to_group({ item_id: itemId, group_id: groupId }) {
      const it = state.item(itemId);
      const board = state.board(it.board_id);
      state.group(board, groupId);
      it.group_id = groupId;
      it.updated_at = state.nowIso();
      state.dirty = true;
      return views.item(it);
    },
    archive_item({ item_id: itemId }) {
      const it = state.item(itemId);
      it.state = 'archived'; it.updated_at = state.nowIso(); state.dirty = true;
      return views.item(it);
    },
    delete_item({ item_id: itemId }) {
      const it = state.item(itemId);
      it.state = 'deleted'; it.updated_at = state.nowIso(); state.dirty = true;
      for (const s of state.subitemsOf(it)) s.state = 'deleted';
      return views.item(it);
    },
    ingest_items({ board_id: boardId, group_id: groupId, on_match: onMatch }, ctx) {
      return ingest.create({ boardId, groupId, onMatch, baseUrl: ctx.baseUrl });
    },
  };

  // Per-alias fault injection: a root field whose response key is in
  // ctx.failKeys fails on its own with a 500-style error.
  for (const root of [Query, Mutation]) {
    for (const [name, fn] of Object.entries(root)) {
      root[name] = (args, ctx, info) => {
        if (ctx.failKeys && ctx.failKeys.has(info.path.key)) {
          throw appError('INTERNAL_SERVER_ERROR', 'Internal server error', { statusCode: 500, errorData: { injected: true } });
        }
        return fn(args, ctx, info);
      };
    }
  }
  return { Query, Mutation };
}

module.exports = { makeResolvers, Cursors };
