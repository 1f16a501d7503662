/**
 * Options of the package manager (docs/protocol.md §6), validated and defaulted in one place.
 * Every limit is a safety bound on user input (the archive is user input).
 */
import path from 'node:path';
import { invalidInput } from '../errors';
import { silentLogger, type Logger } from '../log';
import { MAX_TIMER_MS, parseWholeNumber, type Unit } from '../options/values';

const MiB = 1024 * 1024;

export interface PackageOptions {
  /** Extracted trees (`extracted_<name>`) and temporary files go below it. Required. */
  workDir: string;
  /**
   * Keep extracted trees after the last session using them leaves. Default false:
   * a tree is removed when its last user releases it, and trees left by an
   * earlier run are removed at start. With true, trees survive (and are reused
   * by content hash) across sessions and restarts: the fast warm session enter.
   */
  keepExtracted?: boolean;
  /** Largest download, in bytes. Default 1 GiB. */
  maxDownloadBytes?: number;
  /** Largest total uncompressed size of an archive (the tar stream, or the sum of zip entries). Default 2 GiB. */
  maxExtractBytes?: number;
  /** Most entries in one archive. Default 100 000. */
  maxEntries?: number;
  /** Largest single entry, in bytes. Default 1 GiB. */
  maxEntryBytes?: number;
  /**
   * Largest uncompressed/compressed ratio. Checked once the output passes 16 MiB, so
   * small, very compressible archives pass. Default 200 (source code is ~4-10; bombs are 1000+).
   */
  maxCompressionRatio?: number;
  /** Most path components in an entry name. Default 64. */
  maxDepth?: number;
  /** Time to establish a connection for http(s) downloads. Default 10 000 ms. */
  httpConnectTimeoutMs?: number;
  /** Time for a whole http(s) download, redirects included. Default 300 000 ms. */
  httpTotalTimeoutMs?: number;
  /** Most redirects followed. Default 5. */
  maxRedirects?: number;
  /** Time for decompressing and extracting one archive. Default 300 000 ms. */
  extractTimeoutMs?: number;
  /** Time limit of `npm ci`/`npm install`. Default 300 000 ms. */
  installTimeoutMs?: number;
  /**
   * Let npm run install scripts (the package's own and its dependencies') when it
   * installs production dependencies. Default false: a dependency's postinstall is
   * third-party code nobody asked to run, it often downloads binaries (which fails
   * on hosts without Internet access) and it would run with the runner's rights.
   * Packages that need native modules can bundle `node_modules`, or the operator
   * turns this on.
   */
  allowInstallScripts?: boolean;
  /** PEM CA bundle trusted for https downloads, in addition to Node's roots (FLAME_CA_FILE). */
  caFile?: string;
  /** Downloads `grpc(s)://host:port/<key>` URLs from the object cache into `destFile`. */
  fetchFromCache?: (endpointUrl: string, key: string, destFile: string) => Promise<void>;
  /** The npm executable. Default `npm` from PATH. */
  npmCommand?: string;
  logger?: Logger;
}

export type ResolvedPackageOptions = Required<Omit<PackageOptions, 'caFile' | 'fetchFromCache'>> &
  Pick<PackageOptions, 'caFile' | 'fetchFromCache'>;

export const PACKAGE_DEFAULTS = {
  keepExtracted: false,
  maxDownloadBytes: 1024 * MiB,
  maxExtractBytes: 2048 * MiB,
  maxEntries: 100_000,
  maxEntryBytes: 1024 * MiB,
  maxCompressionRatio: 200,
  maxDepth: 64,
  httpConnectTimeoutMs: 10_000,
  httpTotalTimeoutMs: 300_000,
  maxRedirects: 5,
  extractTimeoutMs: 300_000,
  installTimeoutMs: 300_000,
  allowInstallScripts: false,
  npmCommand: 'npm',
} as const;

/** Output below this size is never refused for its compression ratio. */
export const RATIO_FLOOR_BYTES = 16 * MiB;

/** The whole-number options with their unit (for the message) and least value. */
const WHOLE_NUMBERS = {
  maxDownloadBytes: ['bytes', 1], maxExtractBytes: ['bytes', 1], maxEntries: ['count', 1], maxEntryBytes: ['bytes', 1],
  maxCompressionRatio: ['count', 1], maxDepth: ['count', 1],
  httpConnectTimeoutMs: ['ms', 1], httpTotalTimeoutMs: ['ms', 1], extractTimeoutMs: ['ms', 1], installTimeoutMs: ['ms', 1],
  maxRedirects: ['count', 0],
} as const satisfies Record<string, readonly [Unit, number]>;

export function resolvePackageOptions(opts: PackageOptions): ResolvedPackageOptions {
  if (!opts.workDir) throw invalidInput('PackageOptions.workDir is required');
  const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as PackageOptions;
  const o: ResolvedPackageOptions = { ...PACKAGE_DEFAULTS, logger: silentLogger, ...defined, workDir: path.resolve(opts.workDir) };
  for (const [key, [unit, min]] of Object.entries(WHOLE_NUMBERS) as [keyof typeof WHOLE_NUMBERS, readonly [Unit, number]][]) {
    // Timeouts stop at Node's longest timer (a longer one fires after 1 ms).
    o[key] = parseWholeNumber(o[key], `PackageOptions.${key}`, unit, min, unit === 'ms' ? MAX_TIMER_MS : undefined);
  }
  return o;
}
