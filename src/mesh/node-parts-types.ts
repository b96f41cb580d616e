// The shape both `#mesh/node-parts` variants export, kept free of Node types (the browser
// variant's typecheck must not pull them in through @libp2p/tcp or @libp2p/mdns).

import type { Transport } from '@libp2p/interface';

/** A libp2p transport factory, as `tcp()` makes one. */
export type TransportFactory = () => (components: any) => Transport;
/** libp2p's `mdns(init)` service factory. */
export type MdnsFactory = (init: { serviceTag: string; interval?: number }) => (components: any) => unknown;
