// MD5 to hex in plain JavaScript (browsers); Node uses md5-node.ts, chosen by package.json "imports".
import { md5 } from '@noble/hashes/legacy.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

export function md5Hex(text: string): string {
  return bytesToHex(md5(utf8ToBytes(text)));
}
