/**
 * The compile process (see compileInChildProcess in ./transpile): reads
 * `{files, cacheDir}` as JSON on stdin, compiles each file on its main
 * thread (where SWC's addon is safe), writes the cache, and prints every
 * result as JSON. A file that does not parse reports its syntax error; other
 * files of the batch still compile.
 */
import fs from 'node:fs';
import { compiledHash, compileTypeScript, typeScriptSyntaxError, type CompileResult } from './transpile';

const { files, cacheDir } = JSON.parse(fs.readFileSync(0, 'utf8')) as { files: string[]; cacheDir?: string };
const results: CompileResult[] = [];
for (const file of files) {
  let source: string;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch {
    continue;
  }
  try {
    const compiled = compileTypeScript(file, source, cacheDir);
    results.push({ file, hash: compiledHash(file, source), format: compiled.format, code: compiled.code });
  } catch (err) {
    const fields = typeScriptSyntaxError(err);
    results.push({ file, error: fields ?? { what: err instanceof Error ? err.message : String(err), file } });
  }
}
process.stdout.write(JSON.stringify(results));
