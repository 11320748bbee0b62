/**
 * Builds the batched UDP addon (udp-batch.c) beside this file, into build/udp-batch.node, with the C
 * compiler and the headers of the Node running this script. Never fails the build: without a compiler,
 * headers or Linux, it says why and the redirector answers UDP through node:dgram instead.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, 'udp-batch.c');
const target = join(here, 'build', 'udp-batch.node');
const headers = [resolve(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node'].find((dir) => existsSync(join(dir, 'node_api.h')));

function skip(reason) {
  console.log(`redirector: batched UDP not built (${reason}); UDP goes through node:dgram`);
}

if (process.platform !== 'linux') skip(`recvmmsg/sendmmsg need Linux, this is ${process.platform}`);
else if (!headers) skip('no Node headers (node_api.h) found');
else if (existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) {
  // Up to date.
} else {
  mkdirSync(dirname(target), { recursive: true });
  const compiler = process.env.CC ?? 'cc';
  try {
    execFileSync(compiler, ['-O2', '-Wall', '-Wextra', '-shared', '-fPIC', `-I${headers}`, '-o', target, source], { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (err) {
    skip(`${compiler} failed: ${err.message}`);
  }
}
