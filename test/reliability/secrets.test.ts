/**
 * Secrets in package URLs (userinfo, presigned query strings) never reach a
 * log line or a reply message: a real `serve` process at debug level enters
 * sessions from URLs that carry secrets, against a real loopback HTTP server
 * that answers 404, serves an HTML page, or redirects to a URL with a
 * secret of its own; every byte the process wrote and every reply is grepped.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startServeProcess, type ServeProcess } from './serve-process';

const PASSWORD = 'pw-Secret-7781';
const USER = 'user-Secret-3352';
const SIGNATURE = 'sig-Secret-9046';
const REDIRECT_SIGNATURE = 'sig-Secret-1205';
const SECRETS = [PASSWORD, USER, SIGNATURE, REDIRECT_SIGNATURE];

let serve: ServeProcess;
let web: http.Server;
let base: string;
const requests: { url: string; authorization?: string }[] = [];

beforeAll(async () => {
  web = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', authorization: req.headers.authorization });
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/page.tgz') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><html><body>sign in</body></html>');
    } else if (url.pathname === '/moved.tgz') {
      res.writeHead(302, { location: `/gone.tgz?X-Amz-Signature=${REDIRECT_SIGNATURE}` }).end();
    } else {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  base = `127.0.0.1:${(web.address() as AddressInfo).port}`;
  serve = await startServeProcess();
});

afterAll(async () => {
  await serve?.stop();
  await new Promise((r) => web?.close(r));
});

const secretsIn = (text: string): string[] => SECRETS.filter((s) => text.includes(s));

test('no secret of a package URL reaches a log line or a reply message', async () => {
  const urls = [
    `http://${USER}:${PASSWORD}@${base}/missing.tgz?X-Amz-Signature=${SIGNATURE}`,
    `http://${USER}:${PASSWORD}@${base}/page.tgz?X-Amz-Signature=${SIGNATURE}`,
    `http://${USER}:${PASSWORD}@${base}/moved.tgz?X-Amz-Signature=${SIGNATURE}`,
    `http://${base}/page.tgz?X-Amz-Signature=${SIGNATURE}&X-Amz-Credential=${USER}`,
    `http://${USER}:${PASSWORD}@exa mple/x.tgz?sig=${SIGNATURE}`, // not a valid URL: quoted back
    `ftp://${USER}:${PASSWORD}@${base}/x.tgz?sig=${SIGNATURE}`, // unsupported scheme: quoted back
  ];
  const replies: string[] = [];
  for (const [i, url] of urls.entries()) {
    const res = await serve.client.enter({ session_id: `secret-${i}`, application: { name: 'secrets', url } });
    expect(res.return_code).not.toBe(0);
    replies.push(res.message ?? '');
  }
  // The URLs were used: the server saw the credentials and the presigned queries.
  expect(requests.some((r) => r.authorization === `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`)).toBe(true);
  expect(requests.some((r) => r.url.includes(REDIRECT_SIGNATURE))).toBe(true);
  // The replies still say what went wrong, about which URL.
  expect(replies[0]).toMatch(/HTTP 404/);
  expect(replies[0]).toContain(`http://***@${base}/missing.tgz?***`);
  expect(replies[1]).toMatch(/HTML/i);
  expect(replies[2]).toContain(`/gone.tgz?***`);

  await serve.client.leave();
  const output = serve.output();
  expect(output).toMatch(/session enter failed/);
  expect(output).toMatch(/"url":"http:\/\/\*\*\*@/);
  expect({ replies: replies.flatMap(secretsIn), output: secretsIn(output) }).toEqual({ replies: [], output: [] });
  expect(serve.alive()).toBe(true);
});
