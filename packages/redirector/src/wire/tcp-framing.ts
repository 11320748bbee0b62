/**
 * DNS over TCP framing: each message is preceded by its length as 2 bytes, big-endian (RFC 1035 §4.2.2).
 * The reader is fed arbitrary chunks and yields whole messages. Each message is copied once into a buffer
 * of exactly its declared size, so memory per connection stays under 64 KiB however the bytes trickle in.
 */
export class TcpMessageReader {
  private readonly prefix = Buffer.alloc(2);
  private prefixFilled = 0;
  private body: Buffer | undefined;
  private bodyFilled = 0;

  /** True while part of a message (its length or its body) has arrived but not all of it. */
  get inProgress(): boolean {
    return this.prefixFilled > 0 || this.body !== undefined;
  }

  push(chunk: Buffer): Buffer[] {
    const messages: Buffer[] = [];
    let offset = 0;
    while (offset < chunk.length) {
      if (!this.body) {
        this.prefix[this.prefixFilled++] = chunk[offset++];
        if (this.prefixFilled < 2) continue;
        this.prefixFilled = 0;
        this.body = Buffer.allocUnsafe(this.prefix.readUInt16BE(0));
        this.bodyFilled = 0;
      }
      // Falls through even at the end of the chunk, so a zero-length message completes with its prefix.
      const copied = chunk.copy(this.body, this.bodyFilled, offset, offset + this.body.length - this.bodyFilled);
      this.bodyFilled += copied;
      offset += copied;
      if (this.bodyFilled === this.body.length) {
        messages.push(this.body);
        this.body = undefined;
      }
    }
    return messages;
  }
}

export function frameMessage(message: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(2 + message.length);
  framed.writeUInt16BE(message.length, 0);
  message.copy(framed, 2);
  return framed;
}
