// Loaded before every test file: fast-check's property tests run from one fixed seed, so a CI run
// is repeatable. FC_SEED=<n> replays another seed; FC_SEED=random explores new cases.
import fc from 'fast-check';

const DEFAULT_SEED = 20261203;
const raw = process.env.FC_SEED;
if (raw !== 'random') {
  const seed = raw === undefined || raw === '' ? DEFAULT_SEED : Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED must be an integer or "random", got ${raw}`);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
}
