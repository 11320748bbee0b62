import test from 'ava';
import { keyTag, parseRecordData, RecordDataError, recordTypeCode, typeBitmap } from '@overlay/redirector';

const hex = (type: string, data: string) => parseRecordData(recordTypeCode(type), data).toString('hex');

test('presentation forms become wire RDATA', (t) => {
  t.is(hex('A', '192.0.2.1'), 'c0000201');
  t.is(hex('AAAA', '2001:db8::1'), '20010db8000000000000000000000001');
  t.is(hex('MX', '10 Mail.Example.'), '000a046d61696c076578616d706c6500', 'names lower case, canonical');
  t.is(hex('TXT', '"a b" c'), '03612062' + '0163');
  t.is(hex('TXT', '"say \\"hi\\"\\033"'), '09736179202268692221');
  t.is(hex('SRV', '1 2 5060 sip.example.'), '0001000213c4037369700765' + '78616d706c6500');
  t.is(hex('CAA', '0 issue "ca.example"'), '0005697373756563612e6578616d706c65');
  t.is(hex('CNAME', '.'), '00', 'the root is a name too');
  t.is(hex('TYPE65280', '\\# 3 abcdef'), 'abcdef');
  t.is(hex('TXT', '\\# 2 0161'), '0161', 'the generic form works for known types');
});

test('bad data is refused with a reason', (t) => {
  const refuse = (type: string, data: string, pattern: RegExp) => {
    const error = t.throws(() => parseRecordData(recordTypeCode(type), data), { instanceOf: RecordDataError });
    t.regex(error?.message ?? '', pattern);
  };
  refuse('A', '1.2.3', /not an IPv4 address/);
  refuse('MX', '10', /MX needs 2 fields/);
  refuse('TXT', '"open', /unterminated/);
  refuse('TXT', 'x'.repeat(256), /longer than 255/);
  refuse('CAA', '0 is-sue "x"', /CAA tag/);
  refuse('TYPE99', '\\# 2 00', /length does not match/);
  refuse('SVCB', '1 . alpn=h2', /generic form/);
  t.throws(() => recordTypeCode('SOA'), { message: /made by the server/ });
  t.throws(() => recordTypeCode('BOGUS'), { message: /unknown record type/ });
});

test('DNSSEC helpers: the RFC 6605 example key tag, and an NSEC type bitmap', (t) => {
  // RFC 6605 §6.1: example.net. DNSKEY 257 3 13 GojIhhXU… has key tag 55648.
  const key = Buffer.from('GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edbkrSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==', 'base64');
  t.is(keyTag(Buffer.concat([Buffer.from([1, 1, 3, 13]), key])), 55648);
  t.is(typeBitmap([1, 46, 47]).toString('hex'), '0006400000000003');
  t.is(typeBitmap([128]).toString('hex'), `0011${'00'.repeat(16)}80`, 'NXNAME (RFC 9824) is bit 128 of window 0');
  t.is(typeBitmap([257]).toString('hex'), '010140', 'CAA sits in window 1');
});
