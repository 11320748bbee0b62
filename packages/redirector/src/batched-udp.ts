/**
 * UDP through the batched addon (native/udp-batch.c): one recvmmsg, one JS call and one sendmmsg per
 * batch of up to 64 datagrams, where node:dgram makes two system calls and a C++-to-JS call with a new
 * address object per query. Loaded when it was built (`pnpm build` compiles it when a C compiler and
 * Node's headers are there); otherwise `loadBatchedUdp` says why and the caller uses node:dgram.
 */
import { createRequire } from 'node:module';
import type { MessageHandler } from './listeners.js';

/** What native/udp-batch.c's open() returns: shared slot buffers, see the file's header comment. */
interface NativeEndpoint {
  port: number;
  receiveBufferBytes: number;
  input: Buffer;
  output: Buffer;
  sources: Buffer;
  lengths: Int32Array;
  batch: number;
  slot: number;
  sourceSlot: number;
  /** Stops reading; `onClosed` runs once the socket is closed. */
  close(onClosed: () => void): void;
}

interface Addon {
  open(family: 4 | 6, host: string, port: number, receiveBufferBytes: number, onBatch: (count: number) => void): NativeEndpoint;
}

export type BatchedUdpOpener = (family: 4 | 6, host: string, port: number, receiveBufferBytes: number, handle: MessageHandler) => NativeEndpoint;

let loaded: { open: BatchedUdpOpener } | { unavailable: string } | undefined;

/** The addon's opener, or why it cannot be used here (not built, not Linux). Loaded once. */
export function loadBatchedUdp(): { open: BatchedUdpOpener } | { unavailable: string } {
  if (loaded) return loaded;
  try {
    const addon = createRequire(import.meta.url)('../native/build/udp-batch.node') as Addon;
    loaded = { open: (family, host, port, receiveBufferBytes, handle) => openBatched(addon, family, host, port, receiveBufferBytes, handle) };
  } catch (err) {
    loaded = { unavailable: (err as Error).message.split('\n')[0] ?? 'not loadable' };
  }
  return loaded;
}

function openBatched(addon: Addon, family: 4 | 6, host: string, port: number, receiveBufferBytes: number, handle: MessageHandler): NativeEndpoint {
  // The slot layout is read from the endpoint once it exists; the batch callback only runs after open returns.
  let endpoint: NativeEndpoint | undefined;
  // The addon marks a source equal to the last one it gave (-1), so a resolver's text is made once.
  let lastSource = '';
  const answerBatch = (count: number): void => {
    const { input, output, sources, lengths, batch, slot, sourceSlot } = endpoint as NativeEndpoint;
    for (let i = 0; i < count; i++) {
      // The source first, even for a datagram that is skipped: the next one may be marked as its repeat.
      const sourceLength = lengths[2 * batch + i] as number;
      if (sourceLength >= 0) lastSource = sources.toString('latin1', i * sourceSlot, i * sourceSlot + sourceLength);
      const length = lengths[i] as number;
      if (length < 0) continue;
      const at = i * slot;
      const response = handle(input.subarray(at, at + length), lastSource);
      if (response === undefined || response.length > slot) continue;
      output.set(response, at);
      lengths[batch + i] = response.length;
    }
  };
  endpoint = addon.open(family, host, port, receiveBufferBytes, answerBatch);
  return endpoint;
}
