import { safeUrl } from '../../src/redact';

describe('safeUrl: the one rendering of a URL for people', () => {
  test.each([
    ['http://user:PASSWORD@host:8/p/a.tgz', 'http://***@host:8/p/a.tgz'],
    ['https://token@host/a.tgz', 'https://***@host/a.tgz'],
    ['https://host/a.tgz?X-Amz-Signature=SECRET&X-Amz-Credential=SECRET', 'https://host/a.tgz?***'],
    ['https://u:SECRET@host/a.tgz?sig=SECRET#sha256=ab', 'https://***@host/a.tgz?***'],
    ['grpc://u:SECRET@cache:9090/app/pkg/a.tgz?SECRET', 'grpc://***@cache:9090/app/pkg/a.tgz?***'],
    ['file:///srv/pkgs/a.tgz', 'file:///srv/pkgs/a.tgz'],
    ['http://host/p@x/y', 'http://host/p@x/y'],
    // not URLs, quoted back in "is not a valid URL" messages
    ['http://us er:SECRET@ho st/x?sig=SECRET', 'http://***@ho st/x?***'],
    ['user:SECRET@host/x', '***@host/x'],
    ['://:SECRET@', '://***@'],
  ])('%s → %s', (raw, shown) => {
    expect(safeUrl(raw)).toBe(shown);
    expect(safeUrl(raw)).not.toMatch(/SECRET|PASSWORD|token/);
  });

  test('a URL object renders the same as its text, and is not changed', () => {
    const url = new URL('https://u:SECRET@host/a.tgz?sig=SECRET');
    expect(safeUrl(url)).toBe('https://***@host/a.tgz?***');
    expect(url.password).toBe('SECRET');
  });
});
