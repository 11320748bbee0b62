import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { OverlayError } from '@overlay/common';

/**
 * Zone keys read from their PEM files, kept by path and modification time: every state update
 * recompiles the zones, and a key file is read again only when it changed.
 */
export class ZoneKeyFiles {
  private readonly keys = new Map<string, { mtimeMs: number; key: KeyObject }>();

  load(path: string): KeyObject {
    try {
      const { mtimeMs } = statSync(path);
      const known = this.keys.get(path);
      if (known && known.mtimeMs === mtimeMs) return known.key;
      const key = createPrivateKey(readFileSync(path));
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new Error('not an ECDSA P-256 key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)');
      }
      this.keys.set(path, { mtimeMs, key });
      return key;
    } catch (err) {
      throw new OverlayError('ERR_DNSSEC_KEY', `cannot use DNSSEC key file ${path}: ${(err as Error).message}`, { origin: 'config', cause: err });
    }
  }
}
