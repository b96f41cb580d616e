// `#mesh/node-parts` in browsers: no TCP (libp2p's browser TCP throws when made) and no mDNS (no
// UDP); a browser peer dials over WebSockets and is reached back over that same connection.

import type { MdnsFactory, TransportFactory } from './node-parts-types.ts';

export const socketTransports: TransportFactory[] = [];
export const mdnsService: MdnsFactory | undefined = undefined;
