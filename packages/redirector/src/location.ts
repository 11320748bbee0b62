import { clientNetworkKey, familyBits, parseAddress, type IpBytes } from './address.js';
import type { ClientSubnet } from './wire/query.js';

/** Where an answer is for: the client network from EDNS Client Subnet when given, else the packet source. */
export interface ClientLocation {
  address: IpBytes;
  /** Bits of `address` that are known (ECS SOURCE PREFIX-LENGTH, or the full address for a packet source). */
  prefixLength: number;
  /** Key for stable choice: the client's /24 (IPv4) or /56 (IPv6), shorter if ECS gave less. */
  networkKey: string;
}

export function locateClient(sourceAddress: string, ecs: ClientSubnet | undefined): ClientLocation {
  // SOURCE PREFIX-LENGTH 0 is a resolver saying "do not use my client's address" (RFC 7871 §7.1.2).
  if (ecs && ecs.sourcePrefixLength > 0) {
    const { address, sourcePrefixLength } = ecs;
    return { address, prefixLength: sourcePrefixLength, networkKey: clientNetworkKey(address, sourcePrefixLength) };
  }
  const address = parseAddress(sourceAddress);
  const prefixLength = familyBits(address.family);
  return { address, prefixLength, networkKey: clientNetworkKey(address, prefixLength) };
}
