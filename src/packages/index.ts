/** Packages (docs/protocol.md §6): fetch, safely extract and install the user's package. */
export { PackageManager, type InstalledPackage } from './package-manager';
export { PACKAGE_DEFAULTS, type PackageOptions } from './options';
