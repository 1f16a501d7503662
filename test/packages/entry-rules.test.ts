/**
 * The collision key: ASCII names take a shortcut, which must give exactly the
 * full rule's key; other names still meet their case and Unicode variants.
 */
import { collisionKey } from '../../src/packages/entry-rules';

const fullRule = (name: string): string => name.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');

it('every ASCII character keys as under the full rule', () => {
  for (let c = 0; c < 128; c++) {
    const name = `a${String.fromCharCode(c)}Z`;
    expect(collisionKey(name)).toBe(fullRule(name));
  }
  expect(collisionKey('Package/LIB/Index.JS')).toBe('package/lib/index.js');
});

it.each([
  ['straße', 'STRASSE'],
  ['ﬁle', 'file'],
  ['Å', 'å'],
  ['é', 'é'],
])('%p and %p collide', (a, b) => {
  expect(collisionKey(a)).toBe(collisionKey(b));
  expect(collisionKey(a)).toBe(fullRule(a));
});
