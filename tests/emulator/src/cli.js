'use strict';
// tests/emulator/start: parse flags, start the emulator, print its URL on
// stdout (one line), log to stderr, save state and exit on SIGTERM/SIGINT.
const path = require('node:path');
const fs = require('node:fs');
const { Emulator } = require('./server');
const { parseConfigArg, deepMerge } = require('./config');
const { LEGACY_DIR } = require('./schema');

const USAGE = `usage: start [--port N] [--host 127.0.0.1] [--state FILE] [--fixture FILE ...]
             [--time-scale X] [--config JSON|FILE] [--seed N]`;

function parseArgs(argv) {
  const o = { port: 0, host: '127.0.0.1', state: null, fixtures: [], config: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, null];
    const val = () => { if (inline !== null) return inline; if (i + 1 >= argv.length) throw new Error(`${flag} needs a value`); return argv[++i]; };
    switch (flag) {
      case '--port': o.port = Number(val()); break;
      case '--host': o.host = val(); break;
      case '--state': o.state = path.resolve(val()); break;
      case '--fixture': o.fixtures.push(path.resolve(val())); break;
      case '--time-scale': deepMerge(o.config, { time_scale: Number(val()) }); break;
      case '--config': deepMerge(o.config, parseConfigArg(val())); break;
      case '--seed': deepMerge(o.config, { faults: { seed: Number(val()) } }); break;
      case '-h': case '--help': process.stdout.write(`${USAGE}\n`); process.exit(0); break;
      default: throw new Error(`unknown argument ${a}\n${USAGE}`);
    }
  }
  if (!o.fixtures.length) {
    o.fixtures = ['board_9200517329_metadata.json', 'board_9200771505_metadata.json'].map((f) => path.join(LEGACY_DIR, f));
  }
  for (const f of o.fixtures) if (!fs.existsSync(f)) throw new Error(`fixture not found: ${f}`);
  return o;
}

async function main() {
  let o;
  try { o = parseArgs(process.argv.slice(2)); } catch (e) { process.stderr.write(`emulator: ${e.message}\n`); process.exit(2); }
  const log = (m) => process.stderr.write(`emulator: ${m}\n`);
  const emu = new Emulator({ config: o.config, fixtures: o.fixtures, stateFile: o.state, log });
  const url = await emu.listen(o.port, o.host);
  process.stdout.write(`${url}\n`);
  log(`listening on ${url} (boards: ${[...emu.state.boards.keys()].join(', ')}; state: ${o.state || 'memory only'})`);
  let stopping = false;
  const stop = async (sig) => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: saving state and exiting`);
    emu.state.dirty = true;
    await emu.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e) => { process.stderr.write(`emulator: ${e.stack}\n`); process.exit(1); });
