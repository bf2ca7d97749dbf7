'use strict';
// Board/item store: fixture loading, item operations, persistence.
//
// Fixture formats accepted (POST /_emulator/fixture, --fixture FILE):
//  1. the legacy pipeline's board metadata file, as is:
//     { board_id, board_name, parent_board_id?, columns: [{monday_id, monday_title, monday_type, ...}] }
//  2. a native board: { id, name, parent_board_id?, columns: [{id, title, type, settings?}],
//     groups?: [{id, title, color?}], items?: [{id?, name, group_id?, column_values?}] }
//  3. { boards: [ <1 or 2>, ... ] }
const fs = require('node:fs');
const path = require('node:path');
const columns = require('./columns');
const { appError, notFound } = require('./errors');

const GROUP_COLORS = ['#579bfc', '#00c875', '#fdab3d', '#e2445c', '#a25ddc', '#037f4c', '#ff642e', '#66ccff'];

class State {
  constructor(clock) {
    this.clock = clock;
    this.clear();
  }

  clear() {
    this.boards = new Map();   // id -> board
    this.items = new Map();    // id -> item
    this.nextItemId = 9300000001;
    this.nextBoardId = 9400000001;
    this.groupSeq = 1;
    this.dirty = true;
  }

  nowIso() { return new Date(this.clock.now()).toISOString(); }

  // ---- fixtures -------------------------------------------------------
  loadFixture(obj) {
    const list = Array.isArray(obj) ? obj : Array.isArray(obj.boards) ? obj.boards : [obj];
    const loaded = [];
    for (const b of list) loaded.push(this.loadBoard(b));
    // Link item boards to their subitems boards (parent_board_id on the child).
    for (const b of this.boards.values()) {
      if (b.parent_board_id && this.boards.has(b.parent_board_id)) {
        this.boards.get(b.parent_board_id).subitems_board_id = b.id;
      }
    }
    this.dirty = true;
    return loaded;
  }

  loadBoard(b) {
    const legacy = b.board_id !== undefined;
    const id = String(legacy ? b.board_id : b.id);
    if (!/^\d+$/.test(id)) throw new Error(`fixture board id must be numeric, got ${id}`);
    const cols = (b.columns || []).map((c) => {
      const type = legacy ? c.monday_type : c.type;
      let settings = c.settings;
      if (typeof settings === 'string') settings = JSON.parse(settings);
      if (!settings && typeof c.settings_str === 'string') settings = JSON.parse(c.settings_str);
      settings = { ...columns.defaultSettings(type), ...(settings || {}) };
      // Allow a plain label list for convenience.
      if (Array.isArray(c.labels)) {
        settings.labels = type === 'status'
          ? Object.fromEntries(c.labels.map((l, i) => [i >= 5 ? i + 1 : i, l]))
          : c.labels.map((l, i) => ({ id: i + 1, name: l }));
      }
      return { id: legacy ? c.monday_id : c.id, title: legacy ? c.monday_title : c.title, type, settings, archived: false, description: c.description || null };
    });
    if (!cols.some((c) => c.id === 'name')) cols.unshift({ id: 'name', title: 'Name', type: 'name', settings: {}, archived: false, description: null });
    const groups = (b.groups && b.groups.length ? b.groups : [{ id: 'topics', title: 'Group Title' }]).map((g, i) => ({
      id: g.id, title: g.title, color: g.color || GROUP_COLORS[i % GROUP_COLORS.length],
      position: String(g.position || (65536 * (i + 1))), archived: false, deleted: false,
    }));
    const board = {
      id, name: legacy ? b.board_name : b.name, board_kind: b.board_kind || 'public', state: 'active',
      description: b.description || (b.metadata && b.metadata.description) || null,
      item_terminology: legacy ? (b.item_terminology && b.item_terminology.name) || 'item' : b.item_terminology || 'item',
      parent_board_id: b.parent_board_id ? String(b.parent_board_id) : null,
      subitems_board_id: b.subitems_board_id ? String(b.subitems_board_id) : null,
      workspace_id: b.workspace_id ? String(b.workspace_id) : null,
      columns: cols, groups,
    };
    // Replacing a board drops its items.
    if (this.boards.has(id)) for (const [iid, it] of this.items) if (it.board_id === id) this.items.delete(iid);
    this.boards.set(id, board);
    const n = Number(id);
    if (n >= this.nextBoardId) this.nextBoardId = n + 1;
    for (const it of b.items || []) {
      const item = this.createItem(board, { name: it.name, groupId: it.group_id, values: it.column_values || {}, createLabels: true, id: it.id });
      if (it.parent_item_id) item.parent_item_id = String(it.parent_item_id);
    }
    return board;
  }

  loadFixtureFile(file) {
    return this.loadFixture(JSON.parse(fs.readFileSync(file, 'utf8')));
  }

  // ---- lookups ----------------------------------------------------------
  board(id) {
    const b = this.boards.get(String(id));
    if (!b || b.state === 'deleted') throw notFound('board', id);
    return b;
  }

  item(id, { allowArchived = true } = {}) {
    if (id === undefined || id === null) throw appError('InvalidArgumentException', 'item_id is required', { statusCode: 400, errorData: { argument: 'item_id' } });
    const it = this.items.get(String(id));
    if (!it || it.state === 'deleted' || (!allowArchived && it.state === 'archived')) throw notFound('item', id);
    return it;
  }

  group(board, groupId) {
    const g = board.groups.find((x) => x.id === groupId && !x.deleted);
    if (!g) throw appError('InvalidGroupIdException', `Group ${groupId} not found on board ${board.id}`, { errorData: { group_id: groupId, board_id: board.id } });
    return g;
  }

  column(board, colId) {
    const c = board.columns.find((x) => x.id === colId);
    if (!c) throw appError('InvalidColumnIdException', `This column ID doesn't exist for the board`, { errorData: { column_id: colId, board_id: board.id } });
    return c;
  }

  topGroup(board) { return board.groups.find((g) => !g.deleted && !g.archived) || board.groups[0]; }

  // ---- mutations ----------------------------------------------------------
  // Validate every value first, then apply: a bad value leaves the item untouched.
  prepareValues(board, values, createLabels) {
    const out = [];
    for (const [colId, raw] of Object.entries(values)) {
      const col = this.column(board, colId);
      out.push([col, columns.normalize(col, raw, { createLabels, itemExists: (iid) => this.items.has(iid) })]);
    }
    return out;
  }

  applyValues(item, prepared) {
    for (const [col, v] of prepared) {
      if (col.type === 'name') item.name = v;
      else if (v === null) delete item.values[col.id];
      else item.values[col.id] = v;
    }
    item.updated_at = this.nowIso();
    this.dirty = true;
  }

  createItem(board, { name, groupId, values = {}, createLabels = false, parentItemId = null, id = null }) {
    columns.checkItemName(name);
    const group = groupId ? this.group(board, groupId) : this.topGroup(board);
    const prepared = this.prepareValues(board, values, createLabels);
    const itemId = id ? String(id) : String(this.nextItemId++);
    if (id && Number(id) >= this.nextItemId) this.nextItemId = Number(id) + 1;
    const now = this.nowIso();
    const item = {
      id: itemId, board_id: board.id, group_id: group.id, name, state: 'active',
      parent_item_id: parentItemId, created_at: now, updated_at: now, creator_id: '1', values: {},
    };
    this.applyValues(item, prepared);
    this.items.set(itemId, item);
    this.dirty = true;
    return item;
  }

  // The subitems board of `board`; created on first use if the fixture had none
  // (monday creates it together with the first subitem).
  subitemsBoard(board) {
    if (board.subitems_board_id && this.boards.has(board.subitems_board_id)) return this.boards.get(board.subitems_board_id);
    const id = String(this.nextBoardId++);
    const sb = this.loadBoard({ id, name: `Subitems of ${board.name}`, parent_board_id: board.id, columns: [] });
    board.subitems_board_id = id;
    sb.parent_board_id = board.id;
    return sb;
  }

  createSubitem(parent, { name, values, createLabels }) {
    const parentBoard = this.board(parent.board_id);
    if (parentBoard.parent_board_id) {
      throw appError('InvalidArgumentException', 'Subitems cannot be created under a subitem', { statusCode: 400, errorData: { parent_item_id: parent.id } });
    }
    const sb = this.subitemsBoard(parentBoard);
    return this.createItem(sb, { name, values, createLabels, parentItemId: parent.id });
  }

  createGroup(board, title, color) {
    if (typeof title !== 'string' || title.length < 1 || title.length > 255) {
      throw appError('InvalidArgumentException', 'Group name must be between 1 and 255 characters', { statusCode: 400, errorData: { group_name: title } });
    }
    const id = `group_mk${(this.groupSeq++).toString(36).padStart(4, '0')}`;
    const pos = board.groups.reduce((m, g) => Math.max(m, Number(g.position) || 0), 0) + 65536;
    const g = { id, title, color: color || GROUP_COLORS[board.groups.length % GROUP_COLORS.length], position: String(pos), archived: false, deleted: false };
    board.groups.push(g);
    this.dirty = true;
    return g;
  }

  // ---- views --------------------------------------------------------------
  subitemsOf(item) {
    const out = [];
    for (const it of this.items.values()) if (it.parent_item_id === item.id && it.state === 'active') out.push(it);
    return out;
  }

  itemsOfBoard(boardId, { groupId = null, includeArchived = false } = {}) {
    const out = [];
    for (const it of this.items.values()) {
      if (it.board_id !== boardId) continue;
      if (it.state === 'deleted' || (!includeArchived && it.state === 'archived')) continue;
      if (groupId && it.group_id !== groupId) continue;
      out.push(it);
    }
    return out;
  }

  textOf(item, col) {
    const ctx = { itemId: item.id, updatedAt: item.updated_at };
    if (col.type === 'subtasks') ctx.subitemNames = this.subitemsOf(item).map((s) => s.name);
    if (col.type === 'board_relation' && item.values[col.id]) {
      ctx.linkedNames = item.values[col.id].linkedPulseIds.map((l) => (this.items.get(String(l.linkedPulseId)) || {}).name).filter(Boolean);
    }
    if (col.type === 'name') return item.name;
    return columns.textOf(col, item.values[col.id], ctx);
  }

  // JSON dump used by GET /_emulator/state and by persistence.
  dump() {
    const boards = [];
    for (const b of this.boards.values()) {
      const items = this.itemsOfBoard(b.id, { includeArchived: true }).map((it) => this.dumpItem(b, it));
      boards.push({
        id: b.id, name: b.name, board_kind: b.board_kind, state: b.state, description: b.description,
        item_terminology: b.item_terminology, parent_board_id: b.parent_board_id, subitems_board_id: b.subitems_board_id,
        workspace_id: b.workspace_id, columns: b.columns, groups: b.groups, items,
      });
    }
    return { next_item_id: this.nextItemId, next_board_id: this.nextBoardId, group_seq: this.groupSeq, boards };
  }

  dumpItem(board, it) {
    const column_values = {};
    for (const col of board.columns) {
      if (col.type === 'name') continue;
      const v = it.values[col.id];
      if (v === undefined) continue;
      column_values[col.id] = { value: v, text: this.textOf(it, col) };
    }
    return {
      id: it.id, name: it.name, group_id: it.group_id, state: it.state, parent_item_id: it.parent_item_id,
      created_at: it.created_at, updated_at: it.updated_at, column_values,
      subitem_ids: this.subitemsOf(it).map((s) => s.id),
    };
  }

  restore(snapshot) {
    this.clear();
    for (const b of snapshot.boards || []) {
      const { items, ...rest } = b;
      this.boards.set(String(b.id), { ...rest, id: String(b.id) });
      for (const it of items || []) {
        const values = {};
        for (const [cid, cv] of Object.entries(it.column_values || {})) values[cid] = cv.value;
        this.items.set(String(it.id), {
          id: String(it.id), board_id: String(b.id), group_id: it.group_id, name: it.name, state: it.state || 'active',
          parent_item_id: it.parent_item_id || null, created_at: it.created_at, updated_at: it.updated_at, creator_id: '1', values,
        });
      }
    }
    this.nextItemId = snapshot.next_item_id || this.nextItemId;
    this.nextBoardId = snapshot.next_board_id || this.nextBoardId;
    this.groupSeq = snapshot.group_seq || this.groupSeq;
    // Items inserted by board; keep global id order for stable listings.
    this.items = new Map([...this.items.entries()].sort((a, b) => (BigInt(a[0]) < BigInt(b[0]) ? -1 : 1)));
  }

  save(file) {
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
    fs.writeFileSync(tmp, JSON.stringify(this.dump()));
    fs.renameSync(tmp, file);
    this.dirty = false;
  }

  load(file) {
    this.restore(JSON.parse(fs.readFileSync(file, 'utf8')));
    this.dirty = false;
  }
}

module.exports = { State };
