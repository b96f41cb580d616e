// Runs s3rver (an S3 REST API server over a directory) in its own process for the S3 blob tests:
// argv = data directory and bucket; prints {"port":N} once listening on 127.0.0.1, stops on SIGTERM.
import S3rver from 's3rver';

const [directory, bucket] = process.argv.slice(2);
if (!directory || !bucket) {
  console.error('usage: s3rver-child.mjs DIR BUCKET');
  process.exit(2);
}
const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [{ name: bucket }] });
const { port } = await server.run();
process.stdout.write(JSON.stringify({ port }) + '\n');
const stop = () => server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The parent closing our stdin means it is gone (even by SIGKILL): do not outlive it.
process.stdin.on('end', stop).resume();
