// Runs s3rver (an S3 REST API server over a directory) in its own process for the S3 blob tests:
// argv = data directory and bucket; prints {"port":N} once listening on 127.0.0.1, stops on SIGTERM.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import S3rver from 's3rver';
import FilesystemStore from 's3rver/lib/stores/filesystem.js';

// s3rver 3.7.1 answers a PUT of an object or of a part once the bytes are handed to the file's write
// stream, not once they are in the file: a read right after could find the file still empty (a CI
// run read an object back as 0 bytes). S3 is read-after-write consistent, so the two writes are made
// to finish first here, as the same steps with the wait added.
async function writeAll(file, content) {
  await mkdir(dirname(file), { recursive: true });
  const md5 = createHash('md5');
  let size = 0;
  const count = new Transform({
    transform(chunk, _encoding, done) {
      md5.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  if (Buffer.isBuffer(content)) {
    md5.update(content);
    size = content.length;
    await writeFile(file, content);
  } else await pipeline(content, count, createWriteStream(file));
  return { size, md5: md5.digest('hex') };
}
FilesystemStore.prototype.putObject = async function putObject(object) {
  const { size, md5 } = await writeAll(this.getResourcePath(object.bucket, object.key, 'object'), object.content);
  await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  return { size, md5 };
};
FilesystemStore.prototype.putPart = async function putPart(bucket, uploadId, partNumber, content) {
  const partPath = join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId, partNumber.toString());
  const { size, md5 } = await writeAll(partPath, content);
  await writeFile(`${partPath}.md5`, md5);
  return { size, md5 };
};

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
