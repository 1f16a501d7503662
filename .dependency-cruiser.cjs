/**
 * `npm run check:cycles`: no import cycle between modules, and none between the
 * folders of src/ (the architecture's rooms: service, runner, packages, cache,
 * codecs, cli, options, util). The files directly in src/ (errors, log, config)
 * are shared leaves and are not a room.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-module-cycle',
      severity: 'error',
      comment: 'An import cycle between modules: break it by moving the shared part into its own module.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycle',
      severity: 'error',
      scope: 'folder',
      comment: 'Two folders of src/ import each other: one of them must own the shared part.',
      from: { path: '^src/[^/]+', pathNot: '^src$' },
      to: { circular: true, pathNot: '^src$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
