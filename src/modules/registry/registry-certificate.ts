import { createHash, createPrivateKey, createPublicKey, sign, type JsonWebKey } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  BasicConstraints,
  Certificate,
  Extension,
  Extensions,
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const COMMON_NAME = '2.5.4.3';
const ORGANIZATION = '2.5.4.10';

export interface CertificateInput {
  /** Our id of the signing key (sk_…): the certificate's common name. */
  kid: string;
  publicJwk: JsonWebKey;
  privateJwk: JsonWebKey;
  notBefore: Date;
  notAfter: Date;
}

function name(kid: string): Name {
  const attribute = (type: string, value: string) => new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) })]);
  return new Name([attribute(ORGANIZATION, 'SkaleData'), attribute(COMMON_NAME, `SkaleData token signing key ${kid}`)]);
}

const extension = (extnID: string, critical: boolean, value: unknown) =>
  new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });

/**
 * A self-signed X.509 certificate (PEM) for one of the keys that sign registry tokens. Docker
 * Distribution takes the keys it trusts from certificates (`auth.token.rootcertbundle`); it reads the
 * public key and does not need a CA. Not a CA itself (basic constraints), for signatures only.
 * The serial number is derived from the kid, so every instance describes a key the same way.
 */
export function selfSignedCertificate(input: CertificateInput): string {
  const spkiDer = createPublicKey({ key: input.publicJwk, format: 'jwk' }).export({ type: 'spki', format: 'der' });
  const spki = AsnConvert.parse(spkiDer, SubjectPublicKeyInfo);
  const serial = createHash('sha256').update(input.kid).digest().subarray(0, 16);
  // A positive INTEGER (RFC 5280 §4.1.2.2) in its minimal DER form: top bit clear, and a first byte that is
  // never 0 (a leading zero byte followed by one below 0x80 is illegal padding, and OpenSSL refuses the
  // whole certificate: one kid in ~256 did that).
  serial[0] = ((serial[0] ?? 0) & 0x3f) | 0x40;
  const algorithm = new AlgorithmIdentifier({ algorithm: ECDSA_WITH_SHA256 });
  const subject = name(input.kid);
  const keyIdentifier = createHash('sha1').update(Buffer.from(spki.subjectPublicKey)).digest();
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: algorithm,
    issuer: subject,
    validity: new Validity({ notBefore: input.notBefore, notAfter: input.notAfter }),
    subject,
    subjectPublicKeyInfo: spki,
    extensions: new Extensions([
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
      extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(new Uint8Array(keyIdentifier).buffer)),
    ]),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = sign('sha256', tbsDer, { key: createPrivateKey({ key: input.privateJwk, format: 'jwk' }), dsaEncoding: 'der' });
  const certificate = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: algorithm, signatureValue: new Uint8Array(signature).buffer });
  const base64 = Buffer.from(AsnConvert.serialize(certificate)).toString('base64');
  return `-----BEGIN CERTIFICATE-----\n${base64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
}
