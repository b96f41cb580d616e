#!/usr/bin/env node
// Launches the CLI: the bundle `npm run build` makes (dist/refuge.mjs) while it is newer than every
// source file, else the TypeScript itself through tsx, so `npx refuge` works without a build step.
import { pathToFileURL } from 'node:url';
import { BUNDLE, bundleIsFresh } from '../scripts/build.mjs';

if (bundleIsFresh()) {
  await import(pathToFileURL(BUNDLE).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
