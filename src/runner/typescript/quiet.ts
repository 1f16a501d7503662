/**
 * Node 22+ warns, several lines long, each time it finds ES module syntax
 * in a file of a package.json without `type` (MODULE_TYPELESS_PACKAGE_JSON).
 * In the runner that is noise in the JSON log stream about a choice the
 * runner makes on purpose (a .ts file's format follows its syntax), so this
 * one warning is dropped; every other warning passes.
 */
const QUIET = 'MODULE_TYPELESS_PACKAGE_JSON';
let installed = false;

export function quietTypelessWarning(): void {
  if (installed) return;
  installed = true;
  const original = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  const filtered = (warning: unknown, ...rest: unknown[]): void => {
    if (warningCode(warning, rest) === QUIET) return;
    original(warning, ...rest);
  };
  process.emitWarning = filtered as typeof process.emitWarning;
}

function warningCode(warning: unknown, rest: unknown[]): unknown {
  if (typeof warning === 'object' && warning !== null && 'code' in warning) return (warning as { code: unknown }).code;
  const [second, third] = rest;
  if (typeof second === 'object' && second !== null && 'code' in second) return (second as { code: unknown }).code;
  return third;
}
