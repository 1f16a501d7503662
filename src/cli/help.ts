/** `flmrun-js --help`: every option, with its default and environment variable (serve and cache from src/options). */
import { helpLines } from '../options/render';
import { SERVE_OPTIONS } from '../options/serve';
import { CACHE_OPTIONS } from '../options/cache';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const VERSION: string = (require('../../package.json') as { version: string }).version;

export const HELP = `flmrun-js ${VERSION}: the Node.js runner for Flame

Usage:
  flmrun-js serve [options]     serve Flame's Instance protocol (what Flame starts)
  flmrun-js cache [options]     run the object cache server (Arrow Flight) alone
  flmrun-js invoke [options]    drive a running instance by hand: enter, run tasks, print results
  flmrun-js get REF             print a cached value (REF: hex/base64 BSON ObjectRef or JSON)
  flmrun-js health [--socket PATH | --target HOST:PORT]   exit 0 when the service is SERVING
  flmrun-js upload DIR|ARCHIVE  put a package into the object cache; prints the url to register
  flmrun-js init DIR            create a TypeScript package (class with state, async method, test) in DIR
  flmrun-js --version | --help

serve:
${helpLines(SERVE_OPTIONS)}

cache:
${helpLines(CACHE_OPTIONS)}

invoke:
  --socket PATH | --target HOST:PORT   the instance to drive [env FLAME_INSTANCE_ENDPOINT]
  --app NAME                 application name [default flmrun-js-cli]
  --session ID               session id [default: random]
  --url URL                  package URL (file://, http(s)://, grpc://host:port/key)
  --context JSON             runner context, e.g. '{"module":"index.js","export":"Counter","init_args":[1],"stateful":false}'
  --method NAME              method to call (omit to call the execution object itself)
  --args JSON                positional arguments as a JSON array [default []]
  --kwargs JSON              keyword arguments as a JSON object (passed as one trailing options object)
  --repeat N                 run the task N times [default 1]

upload:
  --cache URL                the object cache grpc://host:port [env FLAME_CACHE_ENDPOINT]
  --app NAME                 the application; the key is <app>/pkg/<file> [default: package.json name]
  --ca-file FILE             PEM CA bundle for grpcs:// [env FLAME_CA_FILE]
  --with-node-modules        pack node_modules too [default: left out, installed from package.json]

Environment: FLAME_INSTANCE_ENDPOINT, FLAME_CACHE_ENDPOINT, FLAME_CA_FILE, FLAME_LOG
(docs/protocol.md §1 says how Flame sets them).
`;
