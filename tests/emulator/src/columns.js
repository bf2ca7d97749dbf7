'use strict';
// Column value semantics for the column types the legacy boards use.
//
// Each writable type turns an API input (the JSON value from column_values /
// change_column_value, or the plain string of change_simple_column_value)
// into a stored value, rejecting bad input the way monday does
// (ColumnValueException with the column id). Stored values are what monday
// returns in ColumnValue.value (as a JSON string); text is derived on read.
const { columnValueError, appError } = require('./errors');

const DEFAULT_STATUS_LABELS = { 0: 'Working on it', 1: 'Done', 2: 'Stuck' };
const READ_ONLY = new Set(['mirror', 'formula', 'item_id', 'last_updated', 'subtasks', 'creation_log', 'auto_number', 'button']);
const TYPE_TO_GRAPHQL = {
  text: 'TextValue', long_text: 'LongTextValue', numbers: 'NumbersValue', date: 'DateValue',
  status: 'StatusValue', dropdown: 'DropdownValue', checkbox: 'CheckboxValue', email: 'EmailValue',
  link: 'LinkValue', mirror: 'MirrorValue', formula: 'FormulaValue', item_id: 'ItemIdValue',
  last_updated: 'LastUpdatedValue', subtasks: 'SubtasksValue', board_relation: 'BoardRelationValue',
};

const NUMBER_RE = /^-?\d+(\.\d+)?$/;
const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

// Default settings for a column that came from a fixture without any.
function defaultSettings(type) {
  if (type === 'status') return { labels: { ...DEFAULT_STATUS_LABELS }, done_colors: [1] };
  if (type === 'dropdown') return { labels: [] };
  return {};
}

function isEmptyInput(v) {
  return v === null || v === undefined || v === '' ||
    (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
}

function validDate(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3];
}

function validTime(s) { return /^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$/.test(s); }

function statusLabels(col) { return col.settings.labels || (col.settings.labels = {}); }

function statusIndexForLabel(col, label) {
  for (const [idx, l] of Object.entries(statusLabels(col))) if (l === label) return Number(idx);
  return null;
}

function addStatusLabel(col, label) {
  const used = new Set(Object.keys(statusLabels(col)).map(Number));
  // monday keeps index 5 for the default (empty) label; skip it.
  let i = 0;
  while (used.has(i) || i === 5) i++;
  statusLabels(col)[i] = label;
  return i;
}

function dropdownLabels(col) { return col.settings.labels || (col.settings.labels = []); }

function dropdownIdForLabel(col, label) {
  const hit = dropdownLabels(col).find((o) => o.name === label);
  return hit ? hit.id : null;
}

function addDropdownLabel(col, label) {
  const labels = dropdownLabels(col);
  const id = labels.reduce((m, o) => Math.max(m, o.id), 0) + 1;
  labels.push({ id, name: label });
  return id;
}

function statusError(col, value, what) {
  const opts = Object.entries(statusLabels(col)).map(([i, l]) => `${i}: ${l}`).join(', ');
  return columnValueError(col, value, `This status label doesn't exist, possible statuses are: {${opts}}${what ? ` (got ${what})` : ''}`);
}

// Turn input into a stored value (or null = cleared). `simple` = the input is
// the plain string of change_simple_column_value. Throws monday-style errors.
function normalize(col, input, { createLabels = false, simple = false, itemExists = () => true } = {}) {
  const t = col.type;
  if (t === 'name') {
    if (typeof input !== 'string') throw columnValueError(col, input, 'item name must be a string');
    checkItemName(input);
    return input;
  }
  if (READ_ONLY.has(t)) {
    throw columnValueError(col, input, `This column type (${t}) cannot be changed through the API`);
  }
  if (isEmptyInput(input)) return null;
  switch (t) {
    case 'text': {
      if (typeof input === 'string') return input;
      if (typeof input === 'number' || typeof input === 'boolean') return String(input);
      throw columnValueError(col, input);
    }
    case 'long_text': {
      if (typeof input === 'string') return { text: input };
      if (typeof input === 'object' && typeof input.text === 'string') return { text: input.text };
      throw columnValueError(col, input);
    }
    case 'numbers': {
      if (typeof input === 'number' && Number.isFinite(input)) return String(input);
      if (typeof input === 'string' && NUMBER_RE.test(input.trim())) return input.trim();
      throw columnValueError(col, input, 'invalid value for a numbers column: expected a number');
    }
    case 'date': {
      let date; let time = null;
      if (typeof input === 'string') {
        const parts = input.trim().split(/\s+/);
        date = parts[0];
        if (parts[1]) time = parts[1];
      } else if (typeof input === 'object' && !Array.isArray(input)) {
        date = input.date; time = input.time || null;
      }
      if (typeof date !== 'string' || !validDate(date)) throw columnValueError(col, input, 'invalid date: expected {"date":"YYYY-MM-DD"} or "YYYY-MM-DD"');
      if (time !== null && (typeof time !== 'string' || !validTime(time))) throw columnValueError(col, input, 'invalid time: expected HH:MM:SS');
      const out = { date };
      if (time) out.time = time.length === 5 ? `${time}:00` : time;
      return out;
    }
    case 'status': {
      let label = null; let index = null;
      if (typeof input === 'string') label = input;
      else if (typeof input === 'number') index = input;
      else if (typeof input === 'object' && !Array.isArray(input)) {
        if (input.label !== undefined) label = String(input.label);
        else if (input.index !== undefined) index = Number(input.index);
        else throw columnValueError(col, input);
      } else throw columnValueError(col, input);
      if (label !== null) {
        const idx = statusIndexForLabel(col, label);
        if (idx !== null) return { index: idx };
        // A bare number string is accepted as an index when no label matches.
        if (/^\d+$/.test(label) && statusLabels(col)[label] !== undefined) return { index: Number(label) };
        if (createLabels) return { index: addStatusLabel(col, label) };
        throw statusError(col, input, label);
      }
      if (!Number.isInteger(index) || statusLabels(col)[index] === undefined) throw statusError(col, input, `index ${index}`);
      return { index };
    }
    case 'dropdown': {
      let labels = null; let ids = null;
      if (typeof input === 'string') labels = input.split(',').map((s) => s.trim()).filter((s) => s !== '');
      else if (typeof input === 'number') ids = [input];
      else if (Array.isArray(input)) labels = input.map(String);
      else if (typeof input === 'object') {
        if (Array.isArray(input.labels)) labels = input.labels.map((l) => String(l));
        else if (Array.isArray(input.ids)) ids = input.ids;
        else throw columnValueError(col, input);
      }
      const out = [];
      if (labels) {
        for (const l of labels) {
          let id = dropdownIdForLabel(col, l);
          if (id === null) {
            if (!createLabels) {
              throw columnValueError(col, input, `The dropdown label '${l}' does not exist; existing labels: [${dropdownLabels(col).map((o) => o.name).join(', ')}]`);
            }
            id = addDropdownLabel(col, l);
          }
          if (!out.includes(id)) out.push(id);
        }
      } else {
        for (const raw of ids) {
          const id = Number(raw);
          if (!dropdownLabels(col).some((o) => o.id === id)) throw columnValueError(col, input, `The dropdown label id ${raw} does not exist`);
          if (!out.includes(id)) out.push(id);
        }
      }
      return out.length ? { ids: out } : null;
    }
    case 'checkbox': {
      let c = input;
      if (typeof input === 'object' && !Array.isArray(input)) c = input.checked;
      if (c === true || c === 'true') return { checked: 'true' };
      if (c === false || c === 'false' || c === null) return null;
      throw columnValueError(col, input, 'invalid checkbox value: expected {"checked":"true"}');
    }
    case 'email': {
      let email; let text;
      if (typeof input === 'string') {
        const parts = input.trim().split(/\s+/);
        email = parts[0]; text = parts.slice(1).join(' ') || email;
      } else if (typeof input === 'object' && !Array.isArray(input)) {
        email = input.email; text = input.text === undefined ? email : input.text;
      }
      if (typeof email !== 'string' || !EMAIL_RE.test(email)) throw columnValueError(col, input, 'invalid email address');
      return { email, text: String(text) };
    }
    case 'link': {
      let url; let text;
      if (typeof input === 'string') {
        const parts = input.trim().split(/\s+/);
        url = parts[0]; text = parts.slice(1).join(' ') || url;
      } else if (typeof input === 'object' && !Array.isArray(input)) {
        url = input.url; text = input.text === undefined ? url : input.text;
      }
      if (typeof url !== 'string' || url === '' || /\s/.test(url) || !/^[a-z][a-z0-9+.-]*:\/\/|^www\./i.test(url)) {
        throw columnValueError(col, input, 'invalid link: expected {"url":"https://...","text":"..."}');
      }
      return { url, text: String(text) };
    }
    case 'board_relation': {
      const ids = typeof input === 'object' && Array.isArray(input.item_ids) ? input.item_ids : null;
      if (!ids) throw columnValueError(col, input, 'invalid value: expected {"item_ids":[...]}');
      for (const id of ids) if (!itemExists(String(id))) throw columnValueError(col, input, `linked item ${id} does not exist`);
      return ids.length ? { linkedPulseIds: ids.map((id) => ({ linkedPulseId: Number(id) })) } : null;
    }
    default:
      throw columnValueError(col, input, `The column type ${t} is not supported by the emulator`);
  }
}

// change_simple_column_value passes a plain string; map it to the JSON form.
function normalizeSimple(col, str, opts) {
  if (str === null || str === undefined || str === '') return normalize(col, null, opts);
  if (col.type === 'checkbox') return normalize(col, str, opts);
  if (col.type === 'dropdown') return normalize(col, String(str), opts);
  return normalize(col, String(str), { ...opts, simple: true });
}

function checkItemName(name) {
  if (typeof name !== 'string' || name.length < 1) {
    throw appError('InvalidItemNameException', 'Item name must be between 1 and 255 characters', { errorData: { item_name: name === undefined ? null : name } });
  }
  if (name.length > 255) {
    throw appError('ItemNameTooLongException', 'Item name is too long (maximum is 255 characters)', { errorData: { length: name.length } });
  }
}

// Text shown for a stored value (ColumnValue.text).
function textOf(col, stored, ctx = {}) {
  const t = col.type;
  if (t === 'item_id') return ctx.itemId || '';
  if (t === 'last_updated') return ctx.updatedAt || '';
  if (t === 'subtasks') return (ctx.subitemNames || []).join(', ');
  if (stored === null || stored === undefined) return t === 'mirror' || t === 'formula' ? '' : '';
  switch (t) {
    case 'text': case 'numbers': return String(stored);
    case 'long_text': return stored.text;
    case 'date': return stored.time ? `${stored.date} ${stored.time}` : stored.date;
    case 'status': { const l = statusLabels(col)[stored.index]; return l === undefined ? '' : l; }
    case 'dropdown': return stored.ids.map((id) => (dropdownLabels(col).find((o) => o.id === id) || {}).name).filter(Boolean).join(', ');
    case 'checkbox': return stored.checked === 'true' ? 'v' : '';
    case 'email': return stored.email;
    case 'link': return stored.text && stored.text !== stored.url ? `${stored.text} - ${stored.url}` : stored.url;
    case 'board_relation': return (ctx.linkedNames || []).join(', ');
    default: return typeof stored === 'string' ? stored : JSON.stringify(stored);
  }
}

// Parse the column_values argument: monday takes a JSON *string*; an object
// passed through a JSON variable is accepted as well.
function parseColumnValuesArg(arg) {
  if (arg === null || arg === undefined) return {};
  let v = arg;
  if (typeof arg === 'string') {
    try { v = JSON.parse(arg); } catch (e) {
      throw appError('JsonParseException', `column_values is not valid JSON: ${e.message}`, { statusCode: 400, errorData: { column_values: arg } });
    }
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    throw appError('JsonParseException', 'column_values must be a JSON object keyed by column id', { statusCode: 400, errorData: { column_values: arg } });
  }
  return v;
}

module.exports = {
  normalize, normalizeSimple, textOf, parseColumnValuesArg, checkItemName, defaultSettings,
  TYPE_TO_GRAPHQL, READ_ONLY, statusLabels, dropdownLabels, DEFAULT_STATUS_LABELS,
};
