// `#mesh/node-parts` on Node: the libp2p parts only a process with sockets has — TCP, and mDNS on
// the LAN. Browsers get node-parts-none.ts (WebSockets and relays only).

import { mdns } from '@libp2p/mdns';
import { tcp } from '@libp2p/tcp';
import type { MdnsFactory, TransportFactory } from './node-parts-types.ts';

export const socketTransports: TransportFactory[] = [tcp as TransportFactory];
export const mdnsService: MdnsFactory | undefined = mdns as MdnsFactory;
