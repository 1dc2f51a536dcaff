// The site CA issues certificates only from CSRs, and validatePeerCertificate
// refuses every certificate the link security design lists as bad, with a
// message that says what is wrong.

import { describe, expect, it } from "vitest";
import { x509 } from "../../../src/ca/x509.ts";
import { SecurityError } from "../../../src/errors.ts";
import {
  certificateToPem,
  generateSiteKey,
  importPrivateKey,
  loadSiteKey,
  pemToCertificate,
  privateKeyToPem,
} from "../../../src/ca/keys.ts";
import {
  createCsr,
  createSiteCa,
  defaultCertificateValidityMs,
  issueFromCsr,
  loadSiteCa,
  readCsr,
} from "../../../src/ca/site-ca.ts";
import {
  CertificateError,
  trustAnchorFromCaCertificate,
  validatePeerCertificate,
  type ValidationOptions,
} from "../../../src/ca/validate.ts";
import { day, makeLeaf, minute, network } from "./helpers.ts";

async function validate(der: Uint8Array, options: Partial<ValidationOptions> = {}) {
  const net = await network();
  return validatePeerCertificate(der, { trust: net.ca.trust, usedBy: "dialer", now: Date.now(), ...options });
}

async function rejection(der: Uint8Array, options: Partial<ValidationOptions> = {}): Promise<CertificateError> {
  try {
    await validate(der, options);
  } catch (err) {
    expect(err).toBeInstanceOf(CertificateError);
    expect(err).toBeInstanceOf(SecurityError);
    return err as CertificateError;
  }
  throw new Error("certificate was accepted");
}

describe("createSiteCa / createCsr / issueFromCsr", () => {
  it("issues a 30-day certificate from a CSR with the site name in a DNS SAN", async () => {
    const net = await network();
    const { keyPair } = await generateSiteKey();
    const now = Math.floor(Date.now() / 1000) * 1000; // X.509 times have whole seconds
    const issued = await issueFromCsr(net.ca, await createCsr("east", keyPair), { siteName: "east", now });
    expect(issued.notAfter.getTime() - now).toBe(defaultCertificateValidityMs);
    expect(issued.notBefore.getTime()).toBe(now - 5 * minute);
    const peer = await validate(issued.certificateDer, { expectedName: "east" });
    expect(peer.siteName).toBe("east");
    expect(peer.serialNumber).toMatch(/^[0-9a-f]{32}$/);
    expect(peer.spkiSha256).toMatch(/^[0-9a-f]{64}$/);
    const cert = new x509.X509Certificate(issued.certificateDer as Uint8Array<ArrayBuffer>);
    expect(cert.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([
      x509.ExtendedKeyUsage.serverAuth,
      x509.ExtendedKeyUsage.clientAuth,
    ]);
  });

  it("makes a P-256 CA with keyCertSign whose private key cannot be exported", async () => {
    const ca = await createSiteCa("north");
    expect(ca.keyPair.privateKey.extractable).toBe(false);
    const anchor = await trustAnchorFromCaCertificate(ca.certificateDer);
    expect(anchor.publicKeySpki).toEqual(ca.trust.publicKeySpki);
    expect(anchor.subject).toBe("CN=north site CA");
  });

  it("refuses a forged CSR whose signature is by another key (no proof of possession)", async () => {
    const net = await network();
    const victim = await generateSiteKey();
    const attacker = await generateSiteKey();
    const forged = await createCsr("east", { publicKey: victim.keyPair.publicKey, privateKey: attacker.keyPair.privateKey });
    await expect(issueFromCsr(net.ca, forged, { siteName: "east" })).rejects.toThrow(/proof of possession/);
  });

  it("refuses a CSR asking for another site's name", async () => {
    const net = await network();
    const { keyPair } = await generateSiteKey();
    await expect(issueFromCsr(net.ca, await createCsr("west", keyPair), { siteName: "east" })).rejects.toThrow(
      /asks for site "west", but this grant is for "east"/,
    );
  });

  it("refuses a CSR with a non-P-256 key", async () => {
    const net = await network();
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: "CN=east",
      keys,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-384" },
    });
    await expect(issueFromCsr(net.ca, csr.toString("pem"), { siteName: "east" })).rejects.toThrow(/not ECDSA P-256/);
  });

  it("refuses invalid site names and garbage CSRs", async () => {
    const net = await network();
    const { keyPair } = await generateSiteKey();
    await expect(createCsr("*.west", keyPair)).rejects.toThrow(/not a valid site name/);
    await expect(issueFromCsr(net.ca, "not a csr", { siteName: "east" })).rejects.toBeInstanceOf(SecurityError);
    const csr = await readCsr(await createCsr("east", keyPair));
    expect(csr.requestedName).toBe("east");
  });

  it("round-trips CA and site keys through PEM, keeping loaded keys non-extractable", async () => {
    const ca = await createSiteCa("south");
    const loaded = await loadSiteCa(certificateToPem(ca.certificateDer), privateKeyToPem(ca.pkcs8));
    expect(loaded.siteName).toBe("south");
    expect(loaded.keyPair.privateKey.extractable).toBe(false);
    const { keyPair, pkcs8 } = await generateSiteKey();
    const issued = await issueFromCsr(loaded, await createCsr("east", keyPair), { siteName: "east" });
    expect(pemToCertificate(issued.certificatePem)).toEqual(issued.certificateDer);
    await loadSiteKey(privateKeyToPem(pkcs8), issued.certificatePem);
    const other = await generateSiteKey();
    await expect(loadSiteKey(other.pkcs8, issued.certificateDer)).rejects.toThrow(/different key pairs/);
    await expect(importPrivateKey("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----")).rejects.toBeInstanceOf(
      SecurityError,
    );
  });
});

describe("validatePeerCertificate", () => {
  it("rejects a certificate from a rogue CA with the same name", async () => {
    const net = await network();
    const err = await rejection(net.eastRogue.certificate);
    expect(err.problem).toBe("untrusted");
    expect(err.message).toBe(
      'certificate for "east" was not issued by this site\'s CA (rogue or wrong CA): its signature does not verify with the pinned CA key',
    );
  });

  it("rejects an expired certificate, naming the time it expired", async () => {
    const net = await network();
    const der = await makeLeaf(net.ca, {
      notBefore: new Date("2026-11-23T10:00:00Z"),
      notAfter: new Date("2026-11-24T10:00:00Z"),
    });
    const err = await rejection(der, { now: Date.parse("2026-11-25T09:30:00Z") });
    expect(err.problem).toBe("expired");
    expect(err.message).toMatch(/^certificate for "east" expired at 2026-11-24T10:00:00Z \(now 2026-11-25T09:30:00Z\)/);
  });

  it("allows 5 minutes of clock skew on both dates, and no more", async () => {
    const net = await network();
    const notBefore = new Date("2026-11-24T10:00:00Z");
    const notAfter = new Date("2026-11-25T10:00:00Z");
    const der = await makeLeaf(net.ca, { notBefore, notAfter });
    await validate(der, { now: notBefore.getTime() - 4 * minute });
    await validate(der, { now: notAfter.getTime() + 4 * minute });
    expect((await rejection(der, { now: notBefore.getTime() - 6 * minute })).problem).toBe("not-yet-valid");
    expect((await rejection(der, { now: notAfter.getTime() + 6 * minute })).problem).toBe("expired");
    expect((await rejection(der, { now: notBefore.getTime() - 6 * minute })).message).toMatch(
      /is not valid until 2026-11-24T10:00:00Z .*check both sites' clocks/,
    );
  });

  it("rejects a lifetime longer than the policy maximum", async () => {
    const net = await network();
    const der = await makeLeaf(net.ca, { notAfter: new Date(Date.now() + 400 * day) });
    const err = await rejection(der);
    expect(err.problem).toBe("lifetime");
    expect(err.message).toMatch(/longer than the 31 days this site accepts/);
  });

  it("rejects a certificate for another site when the name is expected", async () => {
    const net = await network();
    const err = await rejection(net.mallory.certificate, { expectedName: "east" });
    expect(err.problem).toBe("name");
    expect(err.message).toBe('certificate is for site "mallory", but this link expects "east"');
  });

  it("rejects a leaf that is a CA", async () => {
    const net = await network();
    const der = await makeLeaf(net.ca, {
      replaceExtensions: true,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "east" }]),
      ],
    });
    expect((await rejection(der)).problem).toBe("not-a-leaf");
  });

  it("rejects a missing key usage, one without digitalSignature, and CA key usages", async () => {
    const net = await network();
    const base = [
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "east" }]),
    ];
    const none = await makeLeaf(net.ca, { replaceExtensions: true, extensions: base });
    expect((await rejection(none)).message).toMatch(/no critical key usage/);
    const noSign = await makeLeaf(net.ca, {
      replaceExtensions: true,
      extensions: [...base, new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyEncipherment, true)],
    });
    expect((await rejection(noSign)).message).toMatch(/lacks the digitalSignature key usage/);
    const caUsage = await makeLeaf(net.ca, {
      replaceExtensions: true,
      extensions: [
        ...base,
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true),
      ],
    });
    expect((await rejection(caUsage)).problem).toBe("key-usage");
  });

  it("rejects the wrong extended key usage for the role, and a missing one", async () => {
    const net = await network();
    const make = (ekus: string[] | undefined) =>
      makeLeaf(net.ca, {
        replaceExtensions: true,
        extensions: [
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "east" }]),
          ...(ekus ? [new x509.ExtendedKeyUsageExtension(ekus)] : []),
        ],
      });
    const serverOnly = await make([x509.ExtendedKeyUsage.serverAuth]);
    const err = await rejection(serverOnly, { usedBy: "dialer" });
    expect(err.problem).toBe("extended-key-usage");
    expect(err.message).toMatch(/not allowed for clientAuth \(to dial a link\)/);
    await validate(serverOnly, { usedBy: "acceptor" });
    expect((await rejection(await make([x509.ExtendedKeyUsage.clientAuth]), { usedBy: "acceptor" })).problem).toBe(
      "extended-key-usage",
    );
    expect((await rejection(await make(undefined))).problem).toBe("extended-key-usage");
  });

  it("rejects P-384, Ed25519 and RSA keys", async () => {
    const net = await network();
    const p384 = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-384" }, true, ["sign", "verify"])) as CryptoKeyPair;
    const err = await rejection(await makeLeaf(net.ca, { publicKey: p384.publicKey }));
    expect(err.problem).toBe("key-type");
    expect(err.message).toMatch(/has ECDSA P-384 key; SL1 accepts only ECDSA P-256/);
    const ed = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
    expect((await rejection(await makeLeaf(net.ca, { publicKey: ed.publicKey }))).problem).toBe("key-type");
    const rsa = (await crypto.subtle.generateKey(
      { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1), hash: "SHA-256" },
      true,
      ["sign", "verify"],
    )) as CryptoKeyPair;
    expect((await rejection(await makeLeaf(net.ca, { publicKey: rsa.publicKey }))).problem).toBe("key-type");
  });

  it("rejects a certificate signed with another algorithm than ECDSA P-256/SHA-256", async () => {
    const net = await network();
    const der = await makeLeaf(net.ca, { signingAlgorithm: { name: "ECDSA", hash: "SHA-384" } });
    expect((await rejection(der)).message).toMatch(/not signed with ECDSA P-256\/SHA-256/);
  });

  it("rejects a missing SAN (CN only), two names, and a non-DNS name", async () => {
    const net = await network();
    const cnOnly = await makeLeaf(net.ca, {
      replaceExtensions: true,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      ],
    });
    expect((await rejection(cnOnly)).message).toMatch(/must name exactly one site in a DNS subject alternative name; it has 0/);
    const two = await makeLeaf(net.ca, { sans: [{ type: "dns", value: "east" }, { type: "dns", value: "west" }] });
    expect((await rejection(two)).problem).toBe("name");
    const ip = await makeLeaf(net.ca, { sans: [{ type: "ip", value: "10.0.0.1" }] });
    expect((await rejection(ip)).problem).toBe("name");
    const wildcard = await makeLeaf(net.ca, { sans: [{ type: "dns", value: "*.west" }] });
    expect((await rejection(wildcard)).message).toMatch(/not a valid site name/);
  });

  it("rejects trailing garbage, truncation, tampering and a certificate over 4 KiB", async () => {
    const net = await network();
    const good = net.east.certificate;
    const trailing = new Uint8Array([...good, 0]);
    expect((await rejection(trailing)).message).toMatch(/1 trailing bytes/);
    expect((await rejection(good.subarray(0, good.length - 1))).problem).toBe("malformed");
    const tampered = good.slice();
    tampered[good.length - 40]! ^= 1;
    expect(["untrusted", "malformed"]).toContain((await rejection(tampered)).problem);
    const big = await makeLeaf(net.ca, {
      extensions: [new x509.Extension("1.2.3.4.5", false, new Uint8Array(5000))],
    });
    expect((await rejection(big)).problem).toBe("too-large");
    expect((await rejection(new Uint8Array(0))).problem).toBe("malformed");
  });

  it("rejects an unknown critical extension", async () => {
    const net = await network();
    const der = await makeLeaf(net.ca, { extensions: [new x509.Extension("1.2.3.4.5", true, Uint8Array.of(5, 0))] });
    expect((await rejection(der)).message).toMatch(/unknown critical extension 1\.2\.3\.4\.5/);
  });

  it("rejects a certificate when the pin is another CA's key, whatever the names say", async () => {
    const net = await network();
    const err = await rejection(net.east.certificate, { trust: net.rogueCa.trust });
    expect(err.problem).toBe("untrusted");
  });

  it("checks against the pin's bytes as they are now, when they were changed in place since the last peer", async () => {
    const net = await network();
    const pin = { publicKeySpki: net.ca.trust.publicKeySpki.slice() };
    expect((await validate(net.east.certificate, { trust: pin })).siteName).toBe("east");
    pin.publicKeySpki.set(net.rogueCa.trust.publicKeySpki);
    expect((await rejection(net.east.certificate, { trust: pin })).problem).toBe("untrusted");
    expect((await validate(net.eastRogue.certificate, { trust: pin })).siteName).toBe("east");
  });

  it("refuses a pin that is not a P-256 key at every peer, not only the first", async () => {
    const net = await network();
    const pin = { publicKeySpki: net.ca.trust.publicKeySpki.slice(0, 40) };
    for (let i = 0; i < 2; i++) {
      await expect(validate(net.east.certificate, { trust: pin })).rejects.toThrow(/the pinned CA key is not an ECDSA P-256 key/);
    }
  });
});
