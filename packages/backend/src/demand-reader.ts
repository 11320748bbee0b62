import { Readable } from 'node:stream';

/** Bytes a demand reader holds for its consumer before it stops pulling from the source. */
const READER_HIGH_WATER_BYTES = 64 * 1024;

export interface DemandReader {
  /** What the origin client reads: data moves only once it asks. */
  readonly body: Readable;
  /** Stops taking data from the source and leaves it paused, with every unread byte still in it. */
  detach(): void;
  /** The source ended: the whole body has moved. */
  readonly ended: boolean;
  /** Whether the consumer held the source back (stopped asking) at any time since the last call. */
  takeHeldBack(): boolean;
}

/**
 * A Readable over `source` that pulls only when its consumer reads. A request body handed to the origin
 * client this way stays untouched in the tunnel stream until the origin connection is up, so a connect
 * failure leaves the body whole for another origin. The consumer may destroy `body` freely: the source
 * is never destroyed by it. `onChunk` sees each chunk moved (for byte counts).
 */
export function demandReader(source: Readable, onChunk: (chunk: Buffer) => void): DemandReader {
  let attached = true;
  let ended = false;
  let heldBack = false;
  const onData = (chunk: Buffer) => {
    onChunk(chunk);
    if (!body.push(chunk)) {
      heldBack = true;
      source.pause();
    }
  };
  const onEnd = () => {
    ended = true;
    body.push(null);
  };
  const onError = (error: Error) => body.destroy(error);
  const detach = () => {
    if (!attached) return;
    attached = false;
    source.pause();
    source.off('data', onData).off('end', onEnd).off('error', onError);
  };
  const body = new Readable({
    highWaterMark: READER_HIGH_WATER_BYTES,
    read: () => {
      if (attached) source.resume();
    },
    destroy: (error, callback) => {
      detach();
      callback(error);
    },
  });
  // Paused first: adding a 'data' listener would otherwise start the flow before anyone asked.
  source.pause();
  source.on('data', onData).on('end', onEnd).on('error', onError);
  return {
    body,
    detach,
    get ended() {
      return ended;
    },
    takeHeldBack: () => {
      // Still held back now counts too: the window that starts now begins held back.
      const was = heldBack || source.isPaused();
      heldBack = false;
      return was;
    },
  };
}
