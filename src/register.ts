/**
 * `node --require flmrun-js/dist/register.js …`: this process loads
 * TypeScript and `flmrun-js` as the runner's worker does, so a package's own
 * tests (`flmrun-js init` writes one) run its code as the runner will.
 */
import { installModuleAlias } from './runner/module-alias';
import { defaultCacheDir, enableTypeScript } from './runner/typescript';

installModuleAlias();
enableTypeScript(defaultCacheDir(process.cwd()));
