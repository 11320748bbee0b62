/** Hand-written DNS query bytes for tests, independent of the code under test. */

export function encodeName(name: string): Buffer {
  const labels = name.split('.').filter(Boolean);
  return Buffer.concat([...labels.map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'latin1')])), Buffer.from([0])]);
}

export interface QuerySpec {
  id?: number;
  name: string;
  type?: number;
  klass?: number;
  /** Header flags word (QR/opcode/RD...); 0 = a plain query without RD. */
  flags?: number;
  edns?: { udpSize?: number; version?: number; options?: Buffer[] };
}

export function option(code: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(code, 0);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([head, body]);
}

/** ECS option (code 8): family 1/2, prefix lengths, address bytes as given (not padded or checked). */
export function ecs(family: number, sourcePrefix: number, address: number[], scopePrefix = 0): Buffer {
  return option(8, Buffer.from([family >> 8, family & 0xff, sourcePrefix, scopePrefix, ...address]));
}

export function optRecord(udpSize: number, version: number, options: Buffer[]): Buffer {
  const rdata = Buffer.concat(options);
  const fixed = Buffer.alloc(11);
  fixed[0] = 0; // root owner name
  fixed.writeUInt16BE(41, 1);
  fixed.writeUInt16BE(udpSize, 3);
  fixed.writeUInt32BE((version & 0xff) << 16, 5);
  fixed.writeUInt16BE(rdata.length, 9);
  return Buffer.concat([fixed, rdata]);
}

export function query(spec: QuerySpec): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(spec.id ?? 0x1234, 0);
  header.writeUInt16BE(spec.flags ?? 0, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(spec.edns ? 1 : 0, 10);
  const question = Buffer.alloc(4);
  question.writeUInt16BE(spec.type ?? 1, 0);
  question.writeUInt16BE(spec.klass ?? 1, 2);
  const parts = [header, encodeName(spec.name), question];
  if (spec.edns) parts.push(optRecord(spec.edns.udpSize ?? 1232, spec.edns.version ?? 0, spec.edns.options ?? []));
  return Buffer.concat(parts);
}

export function frame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(message.length, 0);
  return Buffer.concat([prefix, message]);
}

/** Header fields of a response, read by hand. */
export function responseHeader(message: Buffer): {
  id: number;
  qr: boolean;
  aa: boolean;
  tc: boolean;
  rcode: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
} {
  const flags = message.readUInt16BE(2);
  return {
    id: message.readUInt16BE(0),
    qr: (flags & 0x8000) !== 0,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rcode: flags & 0xf,
    qdcount: message.readUInt16BE(4),
    ancount: message.readUInt16BE(6),
    nscount: message.readUInt16BE(8),
    arcount: message.readUInt16BE(10),
  };
}

function skipName(message: Buffer, at: number): number {
  let position = at;
  while (message[position] !== 0) {
    if ((message[position] as number) >= 0xc0) return position + 2;
    position += (message[position] as number) + 1;
  }
  return position + 1;
}

/** The OPT record of a response, read by hand: payload size, extended rcode, and raw options by code. */
export function findOpt(message: Buffer): { udpSize: number; extendedRcode: number; options: Map<number, Buffer> } | undefined {
  const header = responseHeader(message);
  let position = 12;
  for (let i = 0; i < header.qdcount; i++) position = skipName(message, position) + 4;
  const records = header.ancount + header.nscount + header.arcount;
  for (let i = 0; i < records; i++) {
    position = skipName(message, position);
    const type = message.readUInt16BE(position);
    const rdLength = message.readUInt16BE(position + 8);
    const rdata = message.subarray(position + 10, position + 10 + rdLength);
    if (type === 41) {
      const options = new Map<number, Buffer>();
      for (let at = 0; at < rdata.length; at += 4 + rdata.readUInt16BE(at + 2)) {
        options.set(rdata.readUInt16BE(at), rdata.subarray(at + 4, at + 4 + rdata.readUInt16BE(at + 2)));
      }
      return { udpSize: message.readUInt16BE(position + 2), extendedRcode: message[position + 4] as number, options };
    }
    position += 10 + rdLength;
  }
  return undefined;
}
