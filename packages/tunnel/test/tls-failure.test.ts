import test from 'ava';
import { describeConnectFailure, explainTlsFailure } from '@overlay/tunnel';

test('TLS failures get a plain reason in front of what OpenSSL said', (t) => {
  const cases: Array<[string, string | undefined, RegExp]> = [
    ['connect to 10.0.0.1:7000 failed: unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', /not signed by a trusted CA/],
    ['connect to 10.0.0.1:7000 failed: self-signed certificate', 'DEPTH_ZERO_SELF_SIGNED_CERT', /not signed by a trusted CA/],
    ["Hostname/IP does not match certificate's altnames: IP: 10.0.0.1 is not in the cert's list: ", 'ERR_TLS_CERT_ALTNAME_INVALID', /does not carry the dialled name/],
    ['connection error during the handshake: ...tlsv13 alert certificate required...', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', /client certificate/],
    ['connection error during the handshake: ...tlsv1 alert unknown ca...', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', /does not trust this front-end's certificate/],
    ['connect to 10.0.0.1:7000 failed: ...wrong version number...', 'ERR_SSL_WRONG_VERSION_NUMBER', /is not TLS/],
  ];
  for (const [message, code, hint] of cases) {
    const explained = explainTlsFailure(message, code ? { code } : undefined);
    t.regex(explained, hint);
    t.true(explained.startsWith('TLS: ') && explained.endsWith(`(${message})`));
  }
  t.is(explainTlsFailure('connect to 10.0.0.1:7000 failed: connect ECONNREFUSED'), 'connect to 10.0.0.1:7000 failed: connect ECONNREFUSED');
});

test('a plain handshake closed in silence points at a TLS listener', (t) => {
  t.regex(describeConnectFailure(new Error('peer closed the connection during the handshake'), false), /if the back-end's tunnel is TLS, dial it with TLS$/);
  t.is(describeConnectFailure(new Error('connect ECONNREFUSED'), false), 'connect ECONNREFUSED');
  t.regex(describeConnectFailure(Object.assign(new Error('self-signed certificate'), { cause: { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' } }), true), /^TLS: /);
});
