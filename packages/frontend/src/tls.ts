import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContext, type Server, type TlsOptions } from 'node:tls';
import { ConfigError, type Logger } from '@overlay/common';

/** A certificate (PEM, leaf first, chain after) and its private key (PEM). */
export interface CertificatePem {
  cert: string;
  key: string;
}

/** A certificate as configured: PEM text, or the path of a PEM file, for each part. */
export interface CertificateSource {
  cert: string;
  key: string;
}

/** A site's certificate from the live state: served for the site's own domains. */
export interface SiteCertificate extends CertificatePem {
  site: string;
  domains: readonly string[];
}

/** TLS settings every HTTPS listener uses (docs/front-end.md "HTTPS"). */
export interface TlsSettings {
  /** Oldest protocol accepted. */
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  /** How long a session ticket stays valid for resumption, seconds. */
  sessionTimeoutS: number;
}

export const defaultTlsSettings: Readonly<TlsSettings> = Object.freeze({ minVersion: 'TLSv1.2', sessionTimeoutS: 300 });

/** Bytes of a ticket-key set (Node's format: name, AES key, HMAC key). */
const TICKET_KEY_BYTES = 48;

export function newTicketKeys(): Buffer {
  return randomBytes(TICKET_KEY_BYTES);
}

/** A PEM text as is, anything else read as the path of a PEM file; errors name the field. */
async function pemOf(value: string, field: string): Promise<string> {
  if (value.includes('-----BEGIN')) return value;
  try {
    return await readFile(value, 'utf8');
  } catch (err) {
    throw new ConfigError(field, `cannot read ${value}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** Reads the configured certificates (files are read again on every call: a reload picks up renewed files). */
export async function readCertificates(sources: readonly CertificateSource[], field: string): Promise<CertificatePem[]> {
  return Promise.all(sources.map(async (source, index) => ({
    cert: await pemOf(source.cert, `${field}.${index}.cert`),
    key: await pemOf(source.key, `${field}.${index}.key`),
  })));
}

/** The DNS names a certificate is for: its subjectAltName DNS entries, else its CN. */
function namesOf(x509: X509Certificate): string[] {
  const names = (x509.subjectAltName ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
  if (names.length) return names;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}

interface Loaded {
  context: SecureContext;
  pem: CertificatePem;
  names: string[];
  notAfter: Date;
}

/** Parses and checks a certificate and key, and makes its SecureContext; throws with what is wrong. */
function load(pem: CertificatePem, ticketKeys: Buffer, settings: TlsSettings): Loaded {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pem.cert);
  } catch (err) {
    throw new Error(`certificate is not valid PEM: ${(err as Error).message}`);
  }
  let key;
  try {
    key = createPrivateKey(pem.key);
  } catch (err) {
    throw new Error(`private key is not valid PEM: ${(err as Error).message}`);
  }
  if (!x509.checkPrivateKey(key)) throw new Error('private key does not match the certificate');
  const context = createSecureContext({ cert: pem.cert, key: pem.key, minVersion: settings.minVersion, ticketKeys, sessionTimeout: settings.sessionTimeoutS });
  return { context, pem, names: namesOf(x509), notAfter: new Date(x509.validTo) };
}

/** What the store serves now, for status and metrics. */
export interface CertificateInfo {
  names: string[];
  source: string;
  notAfter: Date;
}

/**
 * The certificates of the HTTPS listeners, chosen per connection by SNI. Two sources replace their part
 * independently and without a restart: the config's files (`setConfigured`, at start and on every reload)
 * and the sites' own certificates from the live state (`setSites`, on every update). A site's certificate
 * wins for the site's domains; otherwise the configured certificate whose names match (exactly, or by a
 * `*.` wildcard one label deep); otherwise the first configured one. Every context shares one set of
 * ticket keys, so a session resumes whichever certificate it was made with.
 */
export class CertificateStore {
  private configured: Array<Loaded & { source: string }> = [];
  private sites: Array<Loaded & { source: string }> = [];
  private byName = new Map<string, SecureContext>();
  private fallback: CertificatePem | undefined;
  private readonly servers = new Set<Server>();

  constructor(
    private readonly ticketKeys: Buffer,
    private readonly settings: TlsSettings,
    private readonly log: Logger,
  ) {}

  /** Replaces the configured certificates; throws a ConfigError naming the entry when one is bad (nothing changes then). */
  setConfigured(pems: readonly CertificatePem[], field: string): void {
    this.configured = pems.map((pem, index) => {
      try {
        return { ...load(pem, this.ticketKeys, this.settings), pem, source: `${field}.${index}` };
      } catch (err) {
        throw new ConfigError(`${field}.${index}`, (err as Error).message);
      }
    });
    this.index();
  }

  /**
   * Replaces the sites' certificates; a bad one is logged and left out (its site falls back to the
   * configured ones). An unchanged certificate keeps its context: every state push does not re-parse them all.
   */
  setSites(certificates: readonly SiteCertificate[]): void {
    const previous = new Map(this.sites.map((entry) => [`${entry.pem.cert}\0${entry.pem.key}`, entry]));
    const loaded = [];
    for (const certificate of certificates) {
      try {
        const names = certificate.domains.map((domain) => domain.toLowerCase());
        const known = previous.get(`${certificate.cert}\0${certificate.key}`);
        loaded.push({ ...(known ?? load(certificate, this.ticketKeys, this.settings)), names, source: `site ${certificate.site}` });
      } catch (err) {
        this.log.error({ site: certificate.site, reason: (err as Error).message }, 'site certificate refused; its domains use the configured certificates');
      }
    }
    this.sites = loaded;
    this.index();
  }

  private index(): void {
    const byName = new Map<string, SecureContext>();
    for (const entry of this.configured) for (const name of entry.names) if (!byName.has(name)) byName.set(name, entry.context);
    for (const entry of this.sites) for (const name of entry.names) byName.set(name, entry.context);
    this.byName = byName;
    const fallback = (this.configured[0] ?? this.sites[0])?.pem;
    if (fallback !== this.fallback) {
      this.fallback = fallback;
      for (const server of this.servers) this.installFallback(server);
    }
  }

  /** A client that sends no SNI (or a name nothing matches) gets the server's own context: the fallback. */
  private installFallback(server: Server): void {
    if (this.fallback) server.setSecureContext({ ...this.fallback, ...this.contextOptions() });
  }

  private contextOptions() {
    return { minVersion: this.settings.minVersion, ticketKeys: this.ticketKeys, sessionTimeout: this.settings.sessionTimeoutS };
  }

  /** The context for an SNI name (undefined when nothing at all is loaded: the handshake fails). */
  contextFor(servername: string | undefined): SecureContext | undefined {
    if (servername) {
      const name = servername.toLowerCase();
      const exact = this.byName.get(name);
      if (exact) return exact;
      const dot = name.indexOf('.');
      const wildcard = dot > 0 ? this.byName.get(`*${name.slice(dot)}`) : undefined;
      if (wildcard) return wildcard;
    }
    return undefined; // the server's own context: the fallback
  }

  list(): CertificateInfo[] {
    return [...this.configured, ...this.sites].map(({ names, source, notAfter }) => ({ names, source, notAfter }));
  }

  /** Options of a tls.Server that serves from this store; `attach` it once created. */
  serverOptions(alpn: readonly string[]): TlsOptions {
    return {
      ...this.fallback,
      ...this.contextOptions(),
      SNICallback: (servername, callback) => callback(null, this.contextFor(servername)),
      ALPNProtocols: [...alpn],
    };
  }

  /** Keeps the server's fallback certificate current; `detach` when it closes. */
  attach(server: Server): void {
    this.servers.add(server);
    this.installFallback(server);
  }

  detach(server: Server): void {
    this.servers.delete(server);
  }
}
