import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireCommand, run } from './helpers.js';

/** A throw-away certificate authority made with the real `openssl`, issuing leaf certificates by name. */
export interface TestPki {
  dir: string;
  /** The CA certificate file (PEM). */
  ca: string;
  /** Issues `<name>.pem` and `<name>.key` for the given subjectAltNames (e.g. `DNS:be-1.test`, `IP:127.0.0.1`). */
  issue(name: string, altNames: string[]): Promise<{ cert: string; key: string }>;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function createTestPki(label: string): Promise<TestPki> {
  await requireCommand('openssl', 'openssl');
  const dir = await mkdtemp(join(tmpdir(), `overlay-pki-${label}-`));
  const at = (file: string) => join(dir, file);
  await run('openssl', ['req', '-x509', ...EC, '-days', '2', '-subj', `/CN=${label} test CA`, '-keyout', at('ca.key'), '-out', at('ca.pem')]);
  return {
    dir,
    ca: at('ca.pem'),
    async issue(name, altNames) {
      const ext = at(`${name}.ext`);
      await writeFile(ext, `subjectAltName=${altNames.join(',')}\nextendedKeyUsage=serverAuth,clientAuth\n`);
      await run('openssl', ['req', ...EC, '-subj', `/CN=${name}`, '-keyout', at(`${name}.key`), '-out', at(`${name}.csr`)]);
      await run('openssl', ['x509', '-req', '-in', at(`${name}.csr`), '-CA', at('ca.pem'), '-CAkey', at('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', at(`${name}.pem`)]);
      return { cert: at(`${name}.pem`), key: at(`${name}.key`) };
    },
  };
}
