/** `flmrun-js --help`: every option, with its default and environment variable. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const VERSION: string = (require('../../package.json') as { version: string }).version;

export const HELP = `flmrun-js ${VERSION}: the Node.js runner for Flame

Usage:
  flmrun-js serve [options]     serve Flame's Instance protocol (what Flame starts)
  flmrun-js cache [options]     run the object cache server (Arrow Flight) alone
  flmrun-js invoke [options]    drive a running instance by hand: enter, run tasks, print results
  flmrun-js get REF             print a cached value (REF: hex/base64 BSON ObjectRef or JSON)
  flmrun-js health [--socket PATH | --target HOST:PORT]   exit 0 when the service is SERVING
  flmrun-js --version | --help

serve:
  --socket PATH              Unix socket to listen on            [env FLAME_INSTANCE_ENDPOINT]
  --listen HOST:PORT         also listen on TCP (off by default; keep it on loopback unless TLS)
  --tls-cert FILE --tls-key FILE   serve TLS on the TCP listener
  --cache URL                object cache grpc://host:port | grpcs://host:port
                             [env FLAME_CACHE_ENDPOINT; default: start an embedded cache on 127.0.0.1]
  --ca-file FILE             PEM CA bundle for TLS to the cache and https downloads [env FLAME_CA_FILE]
  --work-dir DIR             working directory for extracted packages [default: cwd]
  --log-level LEVEL          trace|debug|info|warn|error [env FLAME_LOG; default info]
  --task-timeout-ms N        per-task time limit, 0 = none [default 0]
  --cache-deadline-ms N      deadline of each object cache call a task makes [default 30000]
  --worker-heap-mb N         heap limit of the process that runs user code, 0 = Node's default [default 0]
  --max-queued-bytes N       task input bytes held at once (queued and running); more is refused (code 3) [default 268435456]
  --ref-concurrency N        ObjectRef arguments fetched at once [default 8]
  --keep-extracted           keep extracted packages after session leave [default: remove]
  --allow-install-scripts    let dependencies' npm install scripts run [default: --ignore-scripts]
  --shutdown-grace-ms N      SIGTERM waits this long for a running task [default 30000]
  --cache-storage DIR        embedded cache: persist objects here [default: memory only]
  --cache-max-memory BYTES   embedded cache: memory limit [default 1073741824]
  --demo                     once serving, run the bundled example package end to end and print it

cache:
  --listen HOST:PORT         [default 127.0.0.1:9090]
  --storage DIR              persist objects (Arrow IPC files) [default: memory only]
  --max-memory BYTES         in-memory limit [default 1073741824]
  --public-endpoint URL      endpoint written into ObjectRefs [default grpc://<listen address>]

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

Environment: FLAME_INSTANCE_ENDPOINT, FLAME_CACHE_ENDPOINT, FLAME_CA_FILE, FLAME_LOG (see SPEC section 1).
`;
