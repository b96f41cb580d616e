// Preloaded into a `refuge` child (node --import) by lazy-commands.test.ts: writes each npm package
// the process imports to stderr as "import NAME", from the module hooks' own thread (hence writeSync).
import { register } from 'node:module';

const hooks = `
import { writeSync } from 'node:fs';
import { isBuiltin } from 'node:module';
export async function resolve(specifier, context, next) {
  if (!/^(\\.|\\/|#|file:|data:)/.test(specifier) && !isBuiltin(specifier)) writeSync(2, 'import ' + specifier + '\\n');
  return next(specifier, context);
}`;
register('data:text/javascript,' + encodeURIComponent(hooks));
