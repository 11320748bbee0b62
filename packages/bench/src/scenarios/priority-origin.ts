/**
 * The priority scenario's origin, run inside a lab host: a demo origin on the address given as the first
 * argument, announced with the usual ready line. Stops on SIGTERM.
 */
import { printReadyLine } from '@overlay/common';
import { startDemoOrigin } from '@overlay/demo-origin';

const host = process.argv[2] ?? '127.0.0.1';
const origin = await startDemoOrigin({ id: 'origin-1', host, port: 0 });
printReadyLine({ url: origin.url });
process.once('SIGTERM', () => {
  void origin.close().finally(() => process.exit(0));
});
