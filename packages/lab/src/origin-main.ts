/**
 * A demo origin as its own process, for a lab namespace: `node origin-main.js ID HOST PORT`.
 * Prints the ready line ({"msg":"ready","url":…}) once listening; SIGTERM/SIGINT close it.
 */
import { printReadyLine } from '@overlay/common';
import { startDemoOrigin } from '@overlay/demo-origin';

const [id, host, port] = process.argv.slice(2);
if (!id || !host || !port) {
  process.stderr.write('usage: origin-main.js ID HOST PORT\n');
  process.exit(2);
}
const origin = await startDemoOrigin({ id, host, port: Number(port) });
printReadyLine({ role: 'origin', id, url: origin.url });
const stop = () => {
  origin.close().then(() => process.exit(0), () => process.exit(1));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
