'use strict';
// tests/emulator/validate: check GraphQL documents against monday's published
// schema (parse + validate, and in --json mode also the variables).
//   validate [--schema PATH] [--json] [--quiet] FILE... ('-' = stdin)
// Schema: --schema, else $MONDAY_SCHEMA, else <repo>/../shared/reference/monday/schema-2026-10.graphql.
// Exit: 0 all valid, 1 some invalid, 2 usage or I/O error.
const fs = require('node:fs');
const { parse, validate, getOperationAST, getVariableValues, buildSchema } = require('graphql');
const { publishedSchemaPath } = require('./schema');

function usage(msg) {
  if (msg) process.stderr.write(`validate: ${msg}\n`);
  process.stderr.write('usage: validate [--schema PATH] [--json] [--quiet] FILE... (- for stdin)\n');
  process.exit(2);
}

function checkOne(schema, text, jsonMode) {
  let query = text; let variables = null; let operationName = null;
  if (jsonMode) {
    let body;
    try { body = JSON.parse(text); } catch (e) { return [`invalid JSON request body: ${e.message}`]; }
    if (!body || typeof body.query !== 'string') return ['JSON request body has no "query" string'];
    query = body.query; variables = body.variables || {}; operationName = body.operationName || null;
    if (typeof variables === 'string') { try { variables = JSON.parse(variables); } catch (e) { return ['"variables" is a string but not JSON']; } }
  }
  let doc;
  try { doc = parse(query); } catch (e) {
    const loc = e.locations && e.locations[0];
    return [`${loc ? `${loc.line}:${loc.column}: ` : ''}${e.message}`];
  }
  const errs = validate(schema, doc).map((e) => {
    const loc = e.locations && e.locations[0];
    return `${loc ? `${loc.line}:${loc.column}: ` : ''}${e.message}`;
  });
  if (errs.length) return errs;
  if (jsonMode) {
    const op = getOperationAST(doc, operationName || undefined);
    if (!op) return [operationName ? `unknown operation ${operationName}` : 'several operations and no operationName'];
    const r = getVariableValues(schema, op.variableDefinitions || [], variables || {});
    if (r.errors) return r.errors.map((e) => `variables: ${e.message}`);
  }
  return [];
}

function main(argv) {
  let schemaPath = null; let jsonMode = false; let quiet = false; const files = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--schema') { if (i + 1 >= argv.length) usage('--schema needs a path'); schemaPath = argv[++i]; }
    else if (a.startsWith('--schema=')) schemaPath = a.slice(9);
    else if (a === '--json') jsonMode = true;
    else if (a === '--quiet' || a === '-q') quiet = true;
    else if (a === '-h' || a === '--help') usage();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else files.push(a);
  }
  if (!files.length) usage('no input files');
  const sp = publishedSchemaPath(schemaPath);
  let schema;
  try { schema = buildSchema(fs.readFileSync(sp, 'utf8'), { assumeValidSDL: true }); } catch (e) {
    process.stderr.write(`validate: cannot load schema ${sp}: ${e.message}\n`);
    process.exit(2);
  }
  let bad = 0;
  for (const f of files) {
    let text;
    try { text = f === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(f, 'utf8'); } catch (e) {
      process.stderr.write(`validate: ${f}: ${e.message}\n`);
      process.exit(2);
    }
    const name = f === '-' ? '<stdin>' : f;
    const errs = checkOne(schema, text, jsonMode);
    if (errs.length) {
      bad++;
      for (const e of errs) process.stdout.write(`${name}:${e}\n`);
    } else if (!quiet) process.stdout.write(`${name}: ok\n`);
  }
  process.exit(bad ? 1 : 0);
}

if (require.main === module) main(process.argv.slice(2));
module.exports = { checkOne };
