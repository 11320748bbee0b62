import { Counter, Gauge, type Registry } from '@overlay/common';
import type { CertificateStore } from './tls.js';

/** Series of the client-facing listeners: connections by protocol, TLS handshakes, refused preambles. */
export class EdgeMetrics {
  readonly connections: Counter<'listener' | 'protocol'>;
  readonly handshakes: Counter<'resumed'>;
  readonly tlsErrors: Counter<'code'>;
  readonly preambleRefusals: Counter<'code'>;

  constructor(registry: Registry, certificates: CertificateStore | undefined) {
    const registers = [registry];
    this.connections = new Counter({
      name: 'overlay_frontend_client_connections_total',
      help: 'Client connections accepted, by listener (http, https) and protocol (h1, h2)',
      labelNames: ['listener', 'protocol'],
      registers,
    });
    this.handshakes = new Counter({
      name: 'overlay_frontend_tls_handshakes_total',
      help: 'TLS handshakes completed on the HTTPS listener, by whether a session was resumed',
      labelNames: ['resumed'],
      registers,
    });
    this.tlsErrors = new Counter({
      name: 'overlay_frontend_tls_errors_total',
      help: 'TLS handshakes that failed, by error code',
      labelNames: ['code'],
      registers,
    });
    this.preambleRefusals = new Counter({
      name: 'overlay_frontend_preamble_refusals_total',
      help: 'Connections closed before HTTP: bad, missing or late PROXY header (by code)',
      labelNames: ['code'],
      registers,
    });
    if (certificates) {
      new Gauge({
        name: 'overlay_frontend_certificate_expiry_seconds',
        help: 'Seconds until each served certificate expires (negative: expired), by source',
        labelNames: ['source'],
        registers,
        collect() {
          this.reset();
          for (const info of certificates.list()) this.set({ source: info.source }, Math.round((info.notAfter.getTime() - Date.now()) / 1000));
        },
      });
    }
  }
}
