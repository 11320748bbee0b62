import ipaddr from 'ipaddr.js';
import { commonPrefixLength, familyBits, maskAddress, type IpBytes } from './address.js';

interface PopEntry {
  network: IpBytes;
  prefixLength: number;
  pops: readonly string[];
}

export interface PopMatch {
  /** POPs in order of preference; empty when no entry covers the client. */
  pops: readonly string[];
  /**
   * The widest prefix of the client address for which this match holds (the ECS SCOPE PREFIX-LENGTH):
   * the length of the entry that matched, made longer only when a more specific entry sits inside it.
   */
  scopeLength: number;
}

const noMatch: readonly string[] = [];

/** Client CIDR → ordered POP list, longest prefix wins. Linear scan: tables are tens of entries. */
export class PopTable {
  private readonly entries: PopEntry[];

  constructor(preferences: Readonly<Record<string, readonly string[]>>) {
    this.entries = Object.entries(preferences)
      .map(([cidr, pops]) => {
        const [address, prefixLength] = ipaddr.parseCIDR(cidr);
        const bytes = Uint8Array.from(address.toByteArray());
        const network = maskAddress({ family: address.kind() === 'ipv4' ? 4 : 6, bytes }, prefixLength);
        return { network, prefixLength, pops };
      })
      .sort((a, b) => b.prefixLength - a.prefixLength);
  }

  lookup(client: IpBytes): PopMatch {
    let matched: PopEntry | undefined;
    let scopeLength = 0;
    for (const entry of this.entries) {
      if (entry.network.family !== client.family) continue;
      const shared = commonPrefixLength(entry.network.bytes, client.bytes);
      if (shared >= entry.prefixLength) {
        matched ??= entry;
        continue;
      }
      // A non-matching entry shares `shared` leading bits with the client: any scope that long or
      // shorter would also cover that entry's clients, who get a different answer.
      scopeLength = Math.max(scopeLength, shared + 1);
    }
    if (!matched) return { pops: noMatch, scopeLength: Math.min(scopeLength, familyBits(client.family)) };
    // Entries wider than the match share fewer bits than its length; only nested ones can raise the scope.
    return { pops: matched.pops, scopeLength: Math.max(scopeLength, matched.prefixLength) };
  }
}
