#!/usr/bin/env node
/**
 * The `flmrun-js` command line. Its forms are an interface other tools script
 * against; keep them stable:
 *   flmrun-js serve [--socket PATH] [--listen HOST:PORT] [--cache URL] [--work-dir DIR] ...
 *   flmrun-js cache [--listen HOST:PORT] [--storage DIR] [--max-memory BYTES] [--public-endpoint URL]
 *   flmrun-js invoke (--socket PATH | --target HOST:PORT) [--url PKG] [--context JSON] --method M [--args JSON] ...
 *   flmrun-js get REF
 *   flmrun-js health (--socket PATH | --target HOST:PORT)
 *   flmrun-js upload <dir|archive> [--app NAME] [--cache URL]
 */
// First, before the modules below load: serve's spare session process boots meanwhile (src/runner/early-spare.ts).
import { forkEarlySpare } from './runner/early-spare';
forkEarlySpare(process.argv.slice(2));
import { parseArgs } from 'node:util';
import { createLogger } from './log';
import { describeThrown, isFlmError } from './errors';
import { fromEnv, resolveServeOptions } from './config';
import { SERVE_OPTIONS } from './options/serve';
import { CACHE_OPTIONS } from './options/cache';
import { fromFlags, parseArgsConfig, resolveOptions } from './options/resolve';
import { HELP, VERSION } from './cli/help';
import { runInit } from './cli/init';
import { demoSocketPath, runServe } from './cli/serve';
import { runCache } from './cli/cache';
import { runInvoke, runGet } from './cli/invoke';
import { runHealth } from './cli/health';
import { runUpload } from './cli/upload';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP);
    return command ? 0 : 2;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  // `flmrun-js <command> --help`: the one help text covers every command.
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  const logger = createLogger(fromEnv(process.env).logLevel);
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({ args: rest, strict: true, options: parseArgsConfig(SERVE_OPTIONS) });
      const env = fromEnv(process.env);
      const flags = fromFlags(SERVE_OPTIONS, values);
      // The demo needs somewhere to listen even outside Flame: a private temp socket.
      if (flags.demo && !flags.socketPath && !flags.listen && !env.socketPath) flags.socketPath = demoSocketPath();
      const opts = resolveServeOptions({ ...env, ...flags });
      logger.level = opts.logLevel;
      return runServe(opts, logger, opts.demo);
    }
    case 'cache': {
      const { values } = parseArgs({ args: rest, strict: true, options: parseArgsConfig(CACHE_OPTIONS) });
      return runCache(resolveOptions(CACHE_OPTIONS, fromFlags(CACHE_OPTIONS, values)), logger);
    }
    case 'invoke':
      return runInvoke(rest, process.env);
    case 'get':
      return runGet(rest, process.env);
    case 'health':
      return runHealth(rest, process.env);
    case 'upload':
      return runUpload(rest, process.env);
    case 'init':
      return runInit(rest[0], process.stdout);
    default:
      process.stderr.write(`flmrun-js: unknown command "${command}"\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== -1) process.exitCode = code;
  },
  (err: unknown) => {
    // Our own refusals and parseArgs's usage errors are meant for people as they are.
    const usage = err instanceof Error && (isFlmError(err) || ('code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')));
    const text = usage ? err.message : describeThrown(err);
    process.stderr.write(`flmrun-js: ${text}\n`);
    process.exitCode = 2;
  },
);
