import fs from 'node:fs';
import path from 'node:path';
import { resolveModuleFile } from '../../src/runner/resolve-module';
import { makeTempDir, removeDir } from '../helpers/tmp';

function write(root: string, files: Record<string, string>): void {
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
}

describe('resolveModuleFile', () => {
  let root: string;
  beforeEach(() => {
    root = makeTempDir();
  });
  afterEach(() => removeDir(root));

  it('uses package.json exports, with import conditions before require', () => {
    write(root, {
      'package.json': JSON.stringify({ exports: { '.': { import: './esm.mjs', require: './cjs.cjs' } }, main: 'main.js' }),
      'esm.mjs': '',
      'cjs.cjs': '',
      'main.js': '',
    });
    expect(resolveModuleFile(root)).toBe(path.join(root, 'esm.mjs'));
    write(root, { 'package.json': JSON.stringify({ exports: { require: './cjs.cjs' } }) });
    expect(resolveModuleFile(root)).toBe(path.join(root, 'cjs.cjs'));
  });

  it('falls back to main (with extensions) and to index.*', () => {
    write(root, { 'package.json': JSON.stringify({ main: 'lib/entry' }), 'lib/entry.js': '' });
    expect(resolveModuleFile(root)).toBe(path.join(root, 'lib/entry.js'));
    fs.writeFileSync(path.join(root, 'package.json'), '{}');
    fs.writeFileSync(path.join(root, 'index.mjs'), '');
    expect(resolveModuleFile(root)).toBe(path.join(root, 'index.mjs'));
  });

  it('says clearly when there is no entry point or main is missing', () => {
    expect(() => resolveModuleFile(root)).toThrow(/has no entry point .*name one with the session context's 'module'/);
    write(root, { 'package.json': JSON.stringify({ main: 'gone.js' }) });
    expect(() => resolveModuleFile(root)).toThrow("names main 'gone.js', which does not exist");
    write(root, { 'package.json': '{not json' });
    expect(() => resolveModuleFile(root)).toThrow(/package.json is not valid JSON/);
  });

  it('resolves relative paths, directories and package names from node_modules', () => {
    write(root, {
      'lib/a.cjs': '',
      'sub/index.js': '',
      'node_modules/dep/package.json': JSON.stringify({ exports: { '.': './d.js', './extra': './x/extra.js' } }),
      'node_modules/dep/d.js': '',
      'node_modules/dep/x/extra.js': '',
      'node_modules/@sc/plain/package.json': JSON.stringify({ main: 'm.js' }),
      'node_modules/@sc/plain/m.js': '',
    });
    expect(resolveModuleFile(root, 'lib/a')).toBe(path.join(root, 'lib/a.cjs'));
    expect(resolveModuleFile(root, './sub')).toBe(path.join(root, 'sub/index.js'));
    expect(resolveModuleFile(root, 'dep')).toBe(path.join(root, 'node_modules/dep/d.js'));
    expect(resolveModuleFile(root, 'dep/extra')).toBe(path.join(root, 'node_modules/dep/x/extra.js'));
    expect(resolveModuleFile(root, '@sc/plain')).toBe(path.join(root, 'node_modules/@sc/plain/m.js'));
    expect(() => resolveModuleFile(root, 'dep/hidden')).toThrow(/module not found: 'dep\/hidden'/);
  });

  it('refuses paths that leave the root and names what was not found', () => {
    expect(() => resolveModuleFile(root, '../outside.js')).toThrow("'..' may not leave the package root");
    expect(() => resolveModuleFile(root, 'a/../../b')).toThrow("'..' may not leave the package root");
    expect(() => resolveModuleFile(root, '/etc/passwd')).toThrow('must be relative to the package root');
    expect(() => resolveModuleFile(root, 'nope')).toThrow(`module not found: 'nope' (no such file under ${root}, and no package of that name in node_modules)`);
  });
});
