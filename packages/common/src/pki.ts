import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate and its key, as PEM text and as the files they were written to. */
export interface IssuedCertificate {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

export interface DemoPki {
  /** The CA certificate clients trust (`curl --cacert`). */
  ca: IssuedCertificate;
  /** One leaf per requested name, signed by the CA, valid for that name (and its `*.` subdomains when asked). */
  leaves: Record<string, IssuedCertificate>;
}

/** Days the demo CA and its certificates are valid (short: they are made fresh on every start). */
const VALID_DAYS = 30;
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function issued(certFile: string, keyFile: string): Promise<IssuedCertificate> {
  const [cert, key] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { cert, key, certFile, keyFile };
}

/**
 * A private CA and one certificate per name, made with the openssl command (no network), written under
 * `dir`. P-256 keys; the leaves carry subjectAltName, serverAuth and a validity browsers accept.
 */
export async function createDemoPki(dir: string, names: readonly string[], options: { wildcard?: boolean } = {}): Promise<DemoPki> {
  const caCert = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  await run('openssl', [
    'req', '-x509', ...EC_KEY, '-days', String(VALID_DAYS), '-subj', '/CN=Overlay demo CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', caKey, '-out', caCert,
  ]);
  const leaves: Record<string, IssuedCertificate> = {};
  for (const [index, name] of names.entries()) {
    const base = join(dir, `site-${index}`);
    const san = options.wildcard ? `DNS:${name},DNS:*.${name}` : `DNS:${name}`;
    await writeFile(`${base}.ext`, `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`);
    await run('openssl', ['req', ...EC_KEY, '-subj', `/CN=${name}`, '-keyout', `${base}.key`, '-out', `${base}.csr`]);
    await run('openssl', [
      'x509', '-req', '-in', `${base}.csr`, '-CA', caCert, '-CAkey', caKey, '-set_serial', String(1000 + index),
      '-days', String(VALID_DAYS), '-extfile', `${base}.ext`, '-out', `${base}.pem`,
    ]);
    leaves[name] = await issued(`${base}.pem`, `${base}.key`);
  }
  return { ca: await issued(caCert, caKey), leaves };
}

/** Base64 SHA-256 of a certificate's SubjectPublicKeyInfo: what Chromium's --ignore-certificate-errors-spki-list takes. */
export function spkiHash(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}
