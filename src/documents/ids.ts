// Document id generation: time-ordered ids (the layout of CouchDB's `utc_random`), so each new id
// sorts after every id made before it, across restarts too: new documents land together at the end
// of the ordered store, and are known to be new without reading it (id-ceiling.ts).

function randomHex(bytes: number): string {
  const buf = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buf);
  let out = '';
  for (const b of buf) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Microseconds since the epoch, as precisely as the platform tells them. */
const nowMicros = (): number => Math.floor((performance.timeOrigin + performance.now()) * 1000);

/**
 * 32 hex digits: 14 of a time in microseconds, strictly increasing within a generator (a second id
 * in the same microsecond takes the next one), then 18 random digits drawn once per generator,
 * which keep ids made on different nodes at the same moment apart.
 */
export class IdGenerator {
  private last = 0;
  private readonly suffix = randomHex(9);

  /** `clock` gives microseconds since the epoch (tests give their own). */
  constructor(private readonly clock: () => number = nowMicros) {}

  next(): string {
    this.last = Math.max(this.clock(), this.last + 1);
    return this.last.toString(16).padStart(14, '0') + this.suffix;
  }
}

export const randomUuid = (): string => randomHex(16);

/** The ids the documents written without one get: one generator for the process, so they keep increasing. */
export const newDocIds = new IdGenerator();
