// Compile-time constants that tsup and vitest replace with each package's
// name and version (see tsup.shared.js and vitest.config.ts).
declare const __PACKAGE_NAME__: string;
declare const __PACKAGE_VERSION__: string;
