/**
 * A plain sentence for the usual reasons a tunnel's TLS cannot come up, from the error Node gives
 * (OpenSSL's code or text): what an operator reads in the log and on the manager's dashboard.
 */
const HINTS: ReadonlyArray<[RegExp, string]> = [
  [/UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|unable to verify|self[- ]signed/i,
    "the back-end's certificate is not signed by a trusted CA (set the front-end's tunnel TLS ca)"],
  [/ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames/i, "the back-end's certificate does not carry the dialled name (set servername, or advertise the name it carries)"],
  [/CERT_HAS_EXPIRED|certificate has expired/i, "the back-end's certificate has expired"],
  [/CERT_NOT_YET_VALID/i, "the back-end's certificate is not valid yet"],
  [/certificate required|ALERT_CERTIFICATE_REQUIRED|peer did not return a certificate/i, 'the back-end asks for a client certificate (mutual TLS): set the front-end\'s tunnel TLS cert and key'],
  [/unknown ca|ALERT_UNKNOWN_CA|bad certificate|ALERT_BAD_CERTIFICATE/i, "the back-end does not trust this front-end's certificate (mutual TLS: sign it with the back-end's tunnel.tls.ca)"],
  [/wrong version number|packet length too long|before secure TLS connection was established/i, "the back-end's tunnel is not TLS, but this front-end dials it with TLS"],
];

/** `message` with the plain reason in front when one of the known TLS failures shows in it or its cause. */
export function explainTlsFailure(message: string, cause?: unknown): string {
  const code = (cause as { code?: unknown } | undefined)?.code;
  const text = `${typeof code === 'string' ? code : ''} ${message}`;
  for (const [pattern, hint] of HINTS) if (pattern.test(text)) return `TLS: ${hint} (${message})`;
  return message;
}

/**
 * Why a connection attempt failed, said plainly: TLS reasons explained, and a plain-TCP handshake that a
 * peer closed in silence flagged as the likely TLS mismatch (a TLS listener drops it without a word).
 */
export function describeConnectFailure(err: Error & { cause?: unknown }, dialledWithTls: boolean): string {
  if (dialledWithTls) return explainTlsFailure(err.message, err.cause);
  if (/peer closed the connection during the handshake/.test(err.message)) return `${err.message}: if the back-end's tunnel is TLS, dial it with TLS`;
  return err.message;
}
