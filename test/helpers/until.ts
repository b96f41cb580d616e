// Test helper: waits for a condition another party brings about (a server's feed count, a client's
// state), checking every few milliseconds; fails after `ms` so a broken test ends.

export async function until(predicate: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
