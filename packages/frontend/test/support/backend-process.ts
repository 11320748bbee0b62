/**
 * A demo origin and a test back-end in their own process (so load on them does not share the test's
 * event loop). Prints one JSON line `{"tunnel": "host:port"}` once ready; exits when stdin closes.
 * Sites: every name in argv maps to the same demo origin.
 */
import { startDemoOrigin } from '@overlay/demo-origin';
import { startTestBackEnd } from './test-backend.js';

const origin = await startDemoOrigin({ id: 'origin-p', host: '127.0.0.1', port: 0 });
const sites = Object.fromEntries(process.argv.slice(2).map((name) => [name, { origin: origin.url }]));
const backEnd = await startTestBackEnd(process.env.BACKEND_ID ?? 'be-1', sites);
process.stdout.write(`${JSON.stringify({ tunnel: backEnd.tunnel })}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
