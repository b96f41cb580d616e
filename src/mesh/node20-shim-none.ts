// `#mesh/node20-shim` in browsers: nothing to add, they have Promise.withResolvers and WebSocket
// (and `ws`, the Node shim's WebSocket, does not run there).
export {};
