// Document id generation: CouchDB's "sequential" uuids (random prefix, increasing suffix) so new
// ids land next to each other in the ordered store instead of scattering writes.

function randomHex(bytes: number): string {
  const buf = new Uint8Array(bytes);
  globalThis.crypto.getRandomValues(buf);
  let out = '';
  for (const b of buf) out += b.toString(16).padStart(2, '0');
  return out;
}

export class IdGenerator {
  private prefix = randomHex(13);
  private counter = 0;

  next(): string {
    this.counter += 1 + Math.floor(Math.random() * 0xffe);
    if (this.counter > 0xffffff) {
      this.prefix = randomHex(13);
      this.counter = 1 + Math.floor(Math.random() * 0xffe);
    }
    return this.prefix + this.counter.toString(16).padStart(6, '0');
  }
}

export const randomUuid = (): string => randomHex(16);
