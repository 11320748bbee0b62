import test from 'ava';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { demoBytes } from '@overlay/demo-origin';
import { fetchOnce, originFor } from './helpers.js';

test('POST /echo streams 100 MiB back byte-exact, replying while the upload is still going', async (t) => {
  const origin = await originFor(t);
  const n = 100 * 1024 * 1024;
  const result = await new Promise<{ length: number; equal: boolean; firstReplyBeforeUploadDone: boolean }>((resolve, reject) => {
    let uploadDone = false;
    let firstReplyBeforeUploadDone = false;
    const req = request(`${origin.url}/echo`, { method: 'POST', headers: { 'content-length': n, 'content-type': 'application/x-test' } }, (res) => {
      const reference = demoBytes(n);
      let pending: Buffer = Buffer.alloc(0);
      let length = 0;
      let equal = res.statusCode === 200 && res.headers['content-type'] === 'application/x-test';
      res.on('data', (chunk: Buffer) => {
        if (length === 0 && !uploadDone) firstReplyBeforeUploadDone = true;
        let at = 0;
        while (at < chunk.length && equal) {
          if (pending.length === 0) pending = reference.next().value ?? Buffer.alloc(0);
          const take = Math.min(pending.length, chunk.length - at);
          equal = take > 0 && chunk.subarray(at, at + take).equals(pending.subarray(0, take));
          pending = pending.subarray(take);
          at += take;
        }
        length += chunk.length;
      });
      res.on('end', () => resolve({ length, equal, firstReplyBeforeUploadDone }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('finish', () => { uploadDone = true; });
    Readable.from(demoBytes(n), { objectMode: false }).pipe(req);
  });
  t.is(result.length, n);
  t.true(result.equal);
  t.true(result.firstReplyBeforeUploadDone, 'echo is streamed, not gathered first');
});

test('POST /echo without Content-Length (chunked) and with an empty body', async (t) => {
  const origin = await originFor(t);
  const chunked = await new Promise<Buffer>((resolve, reject) => {
    const req = request(`${origin.url}/echo`, { method: 'POST' }, (res) => {
      t.is(res.headers['transfer-encoding'], 'chunked');
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Buffer.concat(chunks)));
    });
    req.on('error', reject);
    req.write('hello ');
    setTimeout(() => req.end('world'), 20);
  });
  t.is(chunked.toString(), 'hello world');
  const empty = await fetchOnce(origin, '/echo', { method: 'POST', body: '' });
  t.is(empty.status, 200);
  t.is(empty.body.length, 0);
  t.is(empty.headers['x-origin'], 'origin-test');
});
