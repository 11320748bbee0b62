import { clientNetworkKey, familyBits, parseAddress, type IpBytes } from './address.js';
import { GenerationCache } from './bounded-cache.js';
import type { ClientSubnet } from './wire/query.js';

/** Where an answer is for: the client network from EDNS Client Subnet when given, else the packet source. */
export interface ClientLocation {
  address: IpBytes;
  /** Bits of `address` that are known (ECS SOURCE PREFIX-LENGTH, or the full address for a packet source). */
  prefixLength: number;
  /** Key for stable choice: the client's /24 (IPv4) or /56 (IPv6), shorter if ECS gave less. */
  networkKey: string;
}

function locateSource(sourceAddress: string): ClientLocation {
  const address = parseAddress(sourceAddress);
  const prefixLength = familyBits(address.family);
  return { address, prefixLength, networkKey: clientNetworkKey(address, prefixLength) };
}

function usesSubnet(ecs: ClientSubnet | undefined): ecs is ClientSubnet {
  // SOURCE PREFIX-LENGTH 0 is a resolver saying "do not use my client's address" (RFC 7871 §7.1.2).
  return ecs !== undefined && ecs.sourcePrefixLength > 0;
}

export function locateClient(sourceAddress: string, ecs: ClientSubnet | undefined): ClientLocation {
  if (!usesSubnet(ecs)) return locateSource(sourceAddress);
  const { address, sourcePrefixLength } = ecs;
  return { address, prefixLength: sourcePrefixLength, networkKey: clientNetworkKey(address, sourcePrefixLength) };
}

/**
 * `locateClient` with the packet sources remembered: the same few resolvers ask again and again, and
 * parsing their address text is most of the work. The memo is bounded (`limit` per generation).
 */
export class ClientLocator {
  private readonly sources: GenerationCache<string, ClientLocation>;

  constructor(limit: number) {
    this.sources = new GenerationCache(limit);
  }

  locate(sourceAddress: string, ecs: ClientSubnet | undefined): ClientLocation {
    if (usesSubnet(ecs)) return locateClient(sourceAddress, ecs);
    let location = this.sources.get(sourceAddress);
    if (location === undefined) {
      location = locateSource(sourceAddress);
      this.sources.set(sourceAddress, location);
    }
    return location;
  }
}
