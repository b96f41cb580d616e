// The mesh's Node face: everything portable from core.ts, plus what lives in a data directory
// (the trust file, the published addresses, the remembered listen ports) and the grants put on the
// node's HTTP API for peer-signed requests (`httpPeerAccess`).

export * from './core.ts';
export { FileTrustStore, TRUST_FILE } from './trust-file.ts';
export { ADDRESS_FILE, readAddressFile } from './address-file.ts';
export { LISTEN_FILE, rememberListen, rememberedListen } from './listen-file.ts';
export { httpPeerAccess, type HttpPeerAccessOptions } from './http-peer-access.ts';
