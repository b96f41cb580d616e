// Base64 through Node's Buffer (native): Node 20's btoa and atob are JavaScript loops, and inlining a
// 2 MB attachment through them took ~150 ms, where Buffer takes a few.

export function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Bytes of `data`, already checked to be base64 (Buffer would pass over anything else). */
export function base64ToBytes(data: string): Uint8Array {
  const buf = Buffer.from(data, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
