/**
 * http(s) downloads with Node's own clients: redirects bounded (never from
 * https down to http), a connect and a total deadline, a size cap enforced
 * while streaming to disk, the sha256 computed on the way. The caller removes
 * the file when this rejects.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tls from 'node:tls';
import { describeThrown, FlmError, isFlmError, limitExceeded, unavailable } from '../errors';
import { safeUrl } from '../redact';

export interface HttpLimits {
  maxDownloadBytes: number;
  httpConnectTimeoutMs: number;
  httpTotalTimeoutMs: number;
  maxRedirects: number;
  /** Extra trusted CAs (PEM), added to Node's roots. */
  ca?: Buffer;
  /** Fires when whoever waits for the download gave up. */
  signal?: AbortSignal;
}

export interface Downloaded {
  sha256: string;
  bytes: number;
  contentType?: string;
  /** The URL the bytes finally came from (after redirects). */
  finalUrl: string;
}

export async function httpDownload(url: URL, dest: string, limits: HttpLimits, where: string): Promise<Downloaded> {
  const ac = new AbortController();
  // The caller of session enter gave up: the download stops at once.
  const gaveUp = (): void => ac.abort(unavailable(`${where}: download abandoned: the caller of session enter gave up`));
  if (limits.signal?.aborted) gaveUp();
  limits.signal?.addEventListener('abort', gaveUp, { once: true });
  const timer = setTimeout(() => {
    ac.abort(unavailable(`${where}: download took longer than ${limits.httpTotalTimeoutMs} ms (limit httpTotalTimeoutMs)`));
  }, limits.httpTotalTimeoutMs);
  timer.unref();
  try {
    let current = url;
    for (let redirects = 0; ; redirects++) {
      const res = await request(current, limits, ac.signal, where);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.destroy();
        if (redirects >= limits.maxRedirects) throw unavailable(`${where}: more than ${limits.maxRedirects} redirects (limit maxRedirects)`);
        const next = new URL(res.headers.location, current);
        if (next.protocol !== 'http:' && next.protocol !== 'https:') throw unavailable(`${where}: redirected to an unsupported URL ${safeUrl(next)}`);
        if (current.protocol === 'https:' && next.protocol === 'http:') throw unavailable(`${where}: refused a redirect from https to plain http (${safeUrl(next)})`);
        current = next;
        continue;
      }
      if (status < 200 || status >= 300) {
        res.destroy();
        throw unavailable(`${where}: the server answered HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd() + (current !== url ? ` (at ${safeUrl(current)})` : ''));
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > limits.maxDownloadBytes) {
        res.destroy();
        throw limitExceeded(`${where}: the download is ${declared} bytes (limit maxDownloadBytes ${limits.maxDownloadBytes})`);
      }
      const hash = createHash('sha256');
      let bytes = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          bytes += chunk.length;
          if (bytes > limits.maxDownloadBytes) {
            cb(limitExceeded(`${where}: the download is larger than ${limits.maxDownloadBytes} bytes (limit maxDownloadBytes)`));
            return;
          }
          hash.update(chunk);
          cb(null, chunk);
        },
      });
      await pipeline(res, meter, fs.createWriteStream(dest, { flags: 'wx', mode: 0o600 }), { signal: ac.signal });
      if (Number.isFinite(declared) && bytes !== declared) {
        throw unavailable(`${where}: the download ended after ${bytes} of ${declared} bytes`);
      }
      return { sha256: hash.digest('hex'), bytes, contentType: res.headers['content-type'], finalUrl: current.href };
    }
  } catch (err) {
    throw asDownloadError(ac.signal.aborted ? ac.signal.reason : err, where);
  } finally {
    clearTimeout(timer);
    limits.signal?.removeEventListener('abort', gaveUp);
  }
}

function request(url: URL, limits: HttpLimits, signal: AbortSignal, where: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = {
      method: 'GET',
      headers: { 'accept-encoding': 'identity', 'user-agent': 'flmrun-js' },
      agent: false, // one connection per request, closed after: nothing lingers
      signal,
    };
    if (url.protocol === 'https:' && limits.ca) options.ca = [...tls.rootCertificates, limits.ca.toString('utf8')];
    const req = (url.protocol === 'https:' ? https : http).request(url, options, resolve);
    req.on('error', reject);
    req.on('socket', (socket) => {
      if (!socket.connecting) return;
      const t = setTimeout(() => {
        req.destroy(unavailable(`${where}: could not connect to ${url.host} within ${limits.httpConnectTimeoutMs} ms (limit httpConnectTimeoutMs)`));
      }, limits.httpConnectTimeoutMs);
      t.unref();
      socket.once('connect', () => clearTimeout(t));
      socket.once('close', () => clearTimeout(t));
    });
    req.end();
  });
}

function asDownloadError(err: unknown, where: string): FlmError {
  if (isFlmError(err)) return err;
  const code = (err as { code?: string }).code;
  const tlsHint = code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code) ? ' (is the server\'s CA in FLAME_CA_FILE?)' : '';
  return unavailable(`${where}: could not download: ${describeThrown(err)}${tlsHint}`, err);
}
