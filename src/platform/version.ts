// Refuge's version, as `refuge --version`, the welcome (GET /) and the start line report it: a module
// of its own, so the CLI can print it without loading the HTTP server. Kept equal to package.json's.

export const VERSION = '0.1.0';
