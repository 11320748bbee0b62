/**
 * Gathers a response body for storing while it streams to the client, and gives up (dropping what it
 * held) as soon as the body grows past `limit` bytes, so an oversized response never sits in memory.
 */
export class BodyCollector {
  private chunks: Buffer[] = [];
  private length = 0;
  private overflow = false;

  constructor(readonly limit: number) {}

  /** Keeps a chunk; false once the body is too large to store (the caller can stop pushing). */
  push(chunk: Buffer): boolean {
    if (this.overflow) return false;
    this.length += chunk.length;
    if (this.length > this.limit) {
      this.overflow = true;
      this.chunks = [];
      return false;
    }
    this.chunks.push(chunk);
    return true;
  }

  get overflowed(): boolean {
    return this.overflow;
  }

  get byteLength(): number {
    return this.length;
  }

  /** The whole body, or undefined when it overflowed. */
  body(): Buffer | undefined {
    return this.overflow ? undefined : Buffer.concat(this.chunks, this.length);
  }
}
