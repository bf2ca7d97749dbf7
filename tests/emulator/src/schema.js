'use strict';
// Loading of the emulator's own schema (a subset of monday's) and of monday's
// published schema, plus the subset check used by the test suite.
const fs = require('node:fs');
const path = require('node:path');
const {
  buildSchema, isObjectType, isInterfaceType, isInputObjectType, isEnumType,
  isUnionType, isScalarType, print, astFromValue,
} = require('graphql');

const EMULATOR_SDL_PATH = path.join(__dirname, 'schema.graphql');

// <repo>/tests/emulator/src -> <repo>/../shared/reference/monday/schema-2026-10.graphql
const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const DEFAULT_PUBLISHED_PATH = path.resolve(REPO_ROOT, '..', 'shared', 'reference', 'monday', 'schema-2026-10.graphql');
const LEGACY_DIR = path.resolve(REPO_ROOT, '..', 'shared', 'reference', 'legacy-pipeline');

function publishedSchemaPath(explicit) {
  return explicit || process.env.MONDAY_SCHEMA || DEFAULT_PUBLISHED_PATH;
}

let emulatorSchema = null;
function loadEmulatorSchema() {
  if (!emulatorSchema) emulatorSchema = buildSchema(fs.readFileSync(EMULATOR_SDL_PATH, 'utf8'));
  return emulatorSchema;
}

const publishedCache = new Map();
// Returns the published schema, or null when the file is not there (the
// emulator still works; it just cannot tell "unimplemented" from "invalid").
function loadPublishedSchema(explicit) {
  const p = publishedSchemaPath(explicit);
  if (publishedCache.has(p)) return publishedCache.get(p);
  let s = null;
  if (fs.existsSync(p)) s = buildSchema(fs.readFileSync(p, 'utf8'), { assumeValidSDL: true });
  publishedCache.set(p, s);
  return s;
}

function defaultText(arg) {
  if (arg.defaultValue === undefined) return undefined;
  const ast = astFromValue(arg.defaultValue, arg.type);
  return ast ? print(ast) : String(arg.defaultValue);
}

// Every named type, field, argument (with default), enum value, union member
// and interface of `subset` must exist in `full` with the identical type
// reference (so nullability and list wrapping match). Returns a list of
// human-readable problems (empty = compatible).
function checkSubset(subset, full) {
  const problems = [];
  for (const [name, t] of Object.entries(subset.getTypeMap())) {
    if (name.startsWith('__')) continue;
    const f = full.getType(name);
    if (!f) { problems.push(`type ${name} does not exist in the published schema`); continue; }
    if (t.constructor.name !== f.constructor.name) {
      problems.push(`type ${name} is a ${t.constructor.name} here but a ${f.constructor.name} there`);
      continue;
    }
    if (isScalarType(t)) continue;
    if (isEnumType(t)) {
      const theirs = new Set(f.getValues().map((v) => v.name));
      for (const v of t.getValues()) if (!theirs.has(v.name)) problems.push(`enum value ${name}.${v.name} missing there`);
      continue;
    }
    if (isUnionType(t)) {
      const theirs = new Set(f.getTypes().map((x) => x.name));
      for (const m of t.getTypes()) if (!theirs.has(m.name)) problems.push(`union ${name} member ${m.name} missing there`);
      continue;
    }
    if (isObjectType(t) || isInterfaceType(t)) {
      const theirIfaces = new Set(f.getInterfaces().map((x) => x.name));
      for (const i of t.getInterfaces()) if (!theirIfaces.has(i.name)) problems.push(`${name} implements ${i.name} here only`);
    }
    if (isObjectType(t) || isInterfaceType(t) || isInputObjectType(t)) {
      const theirFields = f.getFields();
      for (const [fname, fld] of Object.entries(t.getFields())) {
        const tf = theirFields[fname];
        if (!tf) { problems.push(`field ${name}.${fname} missing there`); continue; }
        if (String(fld.type) !== String(tf.type)) problems.push(`field ${name}.${fname}: ${fld.type} here, ${tf.type} there`);
        if (isInputObjectType(t)) {
          if (defaultText(fld) !== defaultText(tf)) problems.push(`input field ${name}.${fname} default ${defaultText(fld)} here, ${defaultText(tf)} there`);
          continue;
        }
        const theirArgs = new Map(tf.args.map((a) => [a.name, a]));
        for (const a of fld.args) {
          const ta = theirArgs.get(a.name);
          if (!ta) { problems.push(`argument ${name}.${fname}(${a.name}) missing there`); continue; }
          if (String(a.type) !== String(ta.type)) problems.push(`argument ${name}.${fname}(${a.name}): ${a.type} here, ${ta.type} there`);
          if (defaultText(a) !== defaultText(ta)) problems.push(`argument ${name}.${fname}(${a.name}) default ${defaultText(a)} here, ${defaultText(ta)} there`);
        }
        // A required argument there that we do not declare would let a
        // document pass here and fail at monday.
        const ours = new Set(fld.args.map((a) => a.name));
        for (const ta of tf.args) {
          if (!ours.has(ta.name) && String(ta.type).endsWith('!') && ta.defaultValue === undefined) {
            problems.push(`required argument ${name}.${fname}(${ta.name}) not declared here`);
          }
        }
      }
    }
  }
  return problems;
}

module.exports = {
  EMULATOR_SDL_PATH, DEFAULT_PUBLISHED_PATH, LEGACY_DIR, REPO_ROOT,
  publishedSchemaPath, loadEmulatorSchema, loadPublishedSchema, checkSubset,
};
