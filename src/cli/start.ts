// `refuge start`: open the node's data directory and serve it over HTTP until Ctrl-C, then stop
// accepting, end open feeds and flush every database before exiting (no lost writes, no stale lock).

import { listenAdmin, parseCorsOrigins, startServer, VERSION, type PeerAccess, type RunningServer } from '../http/index.ts';
import { RefugeError } from '../errors/index.ts';
import { blobGcByDefault, openNode, type NodeBlobOptions } from '../node/index.ts';
import type { RefugeNode } from '../node/index.ts';
import type { NodeSettings } from './config.ts';
import { madeDirectory } from './made-dir.ts';

/** The blob store settings as openNode takes them (undefined: the engine's default). */
export function blobOptions(s: NodeSettings): NodeBlobOptions | undefined {
  if (s.blobBackend === undefined || s.blobBackend === 'fs' || s.blobBackend === 'memory') {
    return s.blobBackend === undefined ? undefined : { backend: s.blobBackend };
  }
  if (!s.blobS3Bucket) throw new RefugeError('bad_request', 'the s3 blob backend needs a bucket (--blob-s3-bucket or REFUGE_BLOB_S3_BUCKET)');
  if ((s.blobS3AccessKeyId === undefined) !== (s.blobS3SecretAccessKey === undefined)) {
    throw new RefugeError('bad_request', 'give both the S3 access key id and the secret access key, or neither');
  }
  return {
    backend: 's3',
    bucket: s.blobS3Bucket,
    createBucket: true,
    ...(s.blobS3Endpoint !== undefined && { endpoint: s.blobS3Endpoint }),
    region: s.blobS3Region ?? 'us-east-1',
    ...(s.blobS3Prefix !== undefined && { prefix: s.blobS3Prefix }),
    ...(s.blobS3AccessKeyId !== undefined && { credentials: { accessKeyId: s.blobS3AccessKeyId, secretAccessKey: s.blobS3SecretAccessKey! } }),
  };
}

export async function runStart(settings: NodeSettings, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  // A reader that went away (`refuge start | head`) must not crash the node before it shuts down
  // cleanly: what it prints is only a courtesy.
  out.on('error', () => undefined);
  // Settings that cannot work are refused before anything is opened: bad input changes nothing.
  listenAdmin(settings.host, settings.admin);
  const blobs = blobOptions(settings);
  // A data directory this start makes is removed again if the node does not come up.
  const made = madeDirectory(settings.data);
  let node: RefugeNode | undefined;
  let server: RunningServer | undefined;
  let mesh: Awaited<ReturnType<typeof startMesh>> | undefined;
  try {
    node = await openNode({
      dataDir: settings.data,
      engine: settings.engine,
      durability: settings.durability,
      blobs,
      maxOpenDbs: settings.maxOpenDbs,
      passwordIterations: settings.passwordIterations,
      ...(settings.autoCompaction === 'off' && { autoCompaction: false as const }),
      blobGc: (settings.blobGc === undefined ? blobGcByDefault(blobs) : settings.blobGc === 'on') && {
        // An operator sees what went.
        onCollected: (r) => {
          if (r.deleted.length > 0) process.stdout.write(`refuge: blob gc deleted ${r.deleted.length} unreferenced blob(s), ${r.deletedBytes} bytes\n`);
        },
      },
      // Said where an operator looks: the database opened, but documents may be gone.
      onDamage: (db, loss) => void process.stderr.write(`refuge: database ${db} opened with damaged data dropped (its counts were recomputed): ${loss}\n`),
    });
    // Only a node that holds the directory's lock had it alone (a memory node with memory blobs takes none).
    if (node.dataDir !== undefined) made.opened();
    server = await startServer({
      node,
      host: settings.host,
      port: settings.port,
      admin: settings.admin,
      bodyLimit: settings.bodyLimit,
      maxDocumentSize: settings.maxDocumentSize,
      blobLimit: settings.blobLimit,
      ...(settings.cors !== undefined && { cors: { origins: parseCorsOrigins(settings.cors), credentials: settings.corsCredentials === 'on' } }),
      ...(settings.cookieSameSite !== undefined && { cookieSameSite: settings.cookieSameSite }),
    });
    mesh = settings.mesh === 'on' ? await startMesh(settings, node) : undefined;
    if (mesh) {
      server.context.extras.mesh = mesh.mesh; // for /_mesh/* (src/http/routes-mesh.ts)
      server.context.peers = mesh.peers; // peer-signed HTTP requests, under the same grants
    }
  } catch (err) {
    await server?.close();
    await node?.close();
    await made.undo();
    throw err;
  }
  // Listened for before the start line is out: a Ctrl-C right after it still shuts down cleanly.
  const stopped = new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        out.write(`\n${signal} again: exiting now\n`);
        process.exit(signal === 'SIGTERM' ? 143 : 130); // 128 + the signal's number, as shells report it
      }
      stopping = true;
      out.write(`\n${signal}: shutting down…\n`);
      resolve();
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
  // Bound to every address, the node is reached on loopback from this machine: the examples use it.
  const reach = reachableUrl(server.url);
  out.write(
    `Refuge ${VERSION} listening on ${server.url}${reach !== server.url ? ` (every address; from this machine ${reach})` : ''}\n` +
      (mesh ? mesh.line : '') +
      `  data: ${settings.data} (${settings.engine}, ${settings.durability})${settings.admin ? ', admin required' : ''}; blobs: ${node.blobs.backend}\n` +
      // With an admin, writes need it: the example names the user, never the password.
      `  try:  curl ${reach}/   ·   curl${settings.admin ? ` -u ${settings.admin.split(':', 1)[0]}` : ''} -X PUT ${reach}/mydb\n` +
      `  dashboard: ${reach}/_utils/\n` +
      `  stop: Ctrl-C\n`,
  );
  await stopped;
  await mesh?.stop();
  await server.close();
  await node.close();
  out.write('stopped cleanly\n');
  return 0;
}

/** The URL to reach a server on from this machine: a wildcard bind (0.0.0.0, ::) is reached on loopback. */
export function reachableUrl(url: string): string {
  return url.replace(/^http:\/\/0\.0\.0\.0:/, 'http://127.0.0.1:').replace(/^http:\/\/\[::\]:/, 'http://[::1]:');
}

/** The mesh (loaded only when on: libp2p is big): peers in DATA/trust.json, replication as grants allow. */
async function startMesh(settings: NodeSettings, node: RefugeNode): Promise<{ stop(): Promise<void>; line: string; mesh: unknown; peers: PeerAccess }> {
  const { AutoSync, DEFAULT_MESH_LISTEN, FileTrustStore, MeshNode, httpPeerAccess, rememberListen, rememberedListen } = await import('../mesh/index.ts');
  const list = (text: string | undefined) => text?.split(',').map((a) => a.trim()).filter((a) => a !== '');
  const given = list(settings.meshListen);
  const listen = given && given.length > 0 ? given : [...DEFAULT_MESH_LISTEN];
  const hubs = list(settings.meshHubs) ?? [];
  const onDisk = settings.engine !== 'memory';
  const start = (addrs: string[]) =>
    MeshNode.start({
      key: node.key,
      trust: new FileTrustStore(settings.data),
      node,
      listen: addrs,
      ...(onDisk ? { publishAddressesTo: settings.data } : {}),
      // Unset mdns/nat: on exactly when the mesh listens beyond loopback (MeshNode decides).
      ...(settings.meshMdns !== undefined && { mdns: settings.meshMdns === 'on' }),
      ...(settings.meshNat !== undefined && { nat: settings.meshNat === 'on' }),
      hub: settings.meshHub === 'on',
      hubs,
      dht: settings.meshDht !== 'off',
    });
  // The ports of the last start, so peers find this node where its invite said; taken meanwhile,
  // any port again.
  const remembered = onDisk ? await rememberedListen(settings.data, listen) : listen;
  let mesh: Awaited<ReturnType<typeof start>>;
  try {
    mesh = await start(remembered);
  } catch (err) {
    if (remembered.join() === listen.join()) throw err;
    mesh = await start(listen);
  }
  if (onDisk) await rememberListen(settings.data, listen, mesh.addresses()).catch(() => undefined);
  const sync = new AutoSync({ mesh, node });
  return {
    mesh,
    peers: httpPeerAccess({ trust: mesh.trust, databases: () => node.allDbs() }),
    line:
      `  mesh: peer ${mesh.peerId} on ${mesh.addresses().join(' ')}\n` +
      (settings.meshHub === 'on' ? `  hub:  relaying and registering peers (others use --mesh-hub ${mesh.addresses()[0] ?? ''})\n` : '') +
      (hubs.length > 0 ? `  hubs: ${hubs.join(' ')}\n` : ''),
    async stop() {
      await sync.stop();
      await mesh.stop();
    },
  };
}
