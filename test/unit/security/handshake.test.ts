// The SL1 handshake between two in-memory ends: the happy path, then every
// attack and malformed input from the link security design's negative tests
// that applies to the handshake. A failing side must never report a link.

import { concatBytes } from "../../../src/core/bytes.ts";
import { describe, expect, it } from "vitest";
import { ClosedError, ProtocolError, SecurityError, SkiffError } from "../../../src/errors.ts";
import { createHandshake, certificateVerifyContent, type HandshakeOptions } from "../../../src/link/handshake.ts";
import {
  computeFinished,
  deriveHandshakeSecrets,
  deriveTrafficKey,
  sha256,
} from "../../../src/link/handshake-keys.ts";
import { decryptRecord, encryptRecord, RecordOpener, RecordSealer } from "../../../src/link/records.ts";
import {
  ContentType,
  decodeAuthFlight,
  decodePlaintextMessage,
  encodeCertificate,
  encodeCertificateVerify,
  encodeFinished,
  encodeHello,
  encodeMessage,
  HandshakeType,
} from "../../../src/protocol/handshake.ts";
import { x509 } from "../../../src/ca/x509.ts";
import { connect, day, expectFailure, expectSuccess, identity, makeLeaf, network, within } from "./helpers.ts";
import type { HandshakeIdentity } from "../../../src/link/handshake.ts";

async function pair(dialer: Partial<HandshakeOptions> = {}, acceptor: Partial<HandshakeOptions> = {}) {
  const net = await network();
  return {
    net,
    dialer: createHandshake({ role: "dialer", identity: net.east, trust: net.ca.trust, expectedPeerName: "west", ...dialer }),
    acceptor: createHandshake({ role: "acceptor", identity: net.west, trust: net.ca.trust, ...acceptor }),
  };
}

const subtle = crypto.subtle;

async function x25519(): Promise<{ keys: CryptoKeyPair; share: Uint8Array }> {
  const keys = (await subtle.generateKey({ name: "X25519" }, false, ["deriveBits"])) as CryptoKeyPair;
  return { keys, share: new Uint8Array(await subtle.exportKey("raw", keys.publicKey)) };
}

async function agree(keys: CryptoKeyPair, share: Uint8Array): Promise<Uint8Array> {
  const pub = await subtle.importKey("raw", share as Uint8Array<ArrayBuffer>, { name: "X25519" }, false, []);
  return new Uint8Array(await subtle.deriveBits({ name: "X25519", public: pub }, keys.privateKey, 256));
}

/**
 * An acceptor written from the primitives, answering a ClientHello with a
 * flight the test may rearrange: for attacks the real acceptor never makes.
 */
async function forgedAcceptorReply(
  clientHello: Uint8Array,
  id: HandshakeIdentity,
  arrange: (frames: { certificate: Uint8Array; certificateVerify: Uint8Array; finished: Uint8Array }) => Uint8Array,
): Promise<Uint8Array[]> {
  const plain = decodePlaintextMessage(clientHello);
  if (plain.kind !== "handshake") throw new Error("expected a ClientHello");
  const ch = plain.frame.raw;
  const clientShare = plain.frame.body.subarray(33);
  const eph = await x25519();
  const sh = encodeHello(HandshakeType.ServerHello, { random: crypto.getRandomValues(new Uint8Array(32)), keyShare: eph.share });
  const secrets = await deriveHandshakeSecrets(await agree(eph.keys, clientShare), await sha256(concatBytes(ch, sh)));
  const certificate = encodeCertificate(id.certificate);
  const toSign = certificateVerifyContent("acceptor", await sha256(concatBytes(ch, sh, certificate)));
  const sig = new Uint8Array(await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, id.privateKey, toSign as Uint8Array<ArrayBuffer>));
  const certificateVerify = encodeCertificateVerify(sig);
  const finished = encodeFinished(
    await computeFinished(secrets.serverHandshake, await sha256(concatBytes(ch, sh, certificate, certificateVerify))),
  );
  const key = await deriveTrafficKey(secrets.serverHandshake);
  const flight = arrange({ certificate, certificateVerify, finished });
  return [encodeMessage(ContentType.Handshake, sh), await encryptRecord(key, 0, ContentType.Handshake, flight)];
}

async function dialerAgainstForgedAcceptor(
  arrange: Parameters<typeof forgedAcceptorReply>[2],
  acceptorId?: HandshakeIdentity,
): Promise<Error> {
  const { dialer, net } = await pair();
  const [hello] = await dialer.start();
  const replies = await forgedAcceptorReply(hello!, acceptorId ?? net.west, arrange);
  try {
    for (const m of replies) await within(dialer.receive(m));
  } catch (err) {
    return err as Error;
  }
  throw new Error("dialer accepted a forged flight");
}

describe("SL1 handshake: happy path", () => {
  it("both ends finish, learn each other's site names and agree on per-direction secrets", async () => {
    const { dialer, acceptor } = await pair();
    const out = await connect(dialer, acceptor);
    const d = expectSuccess(out.dialer);
    const a = expectSuccess(out.acceptor);
    expect(d.peer.siteName).toBe("west");
    expect(a.peer.siteName).toBe("east");
    expect(d.secrets.send).toEqual(a.secrets.receive);
    expect(d.secrets.receive).toEqual(a.secrets.send);
    expect(d.secrets.send).not.toEqual(d.secrets.receive);
    expect(d.secrets.exporter).toEqual(a.secrets.exporter);
    expect(Math.abs(d.peerTimeMs! - Date.now())).toBeLessThan(60_000);
    expect(a.peer.notAfter.getTime()).toBeGreaterThan(Date.now());
    expect(dialer.state).toBe("done");
    expect(acceptor.state).toBe("done");
    // Four messages: ClientHello; ServerHello + acceptor flight; dialer flight; LinkAccepted.
    expect(out.log.toAcceptor.length).toBe(2);
    expect(out.log.toDialer.length).toBe(3);
  });

  it("the handed-over secrets drive the record layer in both directions", async () => {
    const { dialer, acceptor } = await pair();
    const out = await connect(dialer, acceptor);
    const d = expectSuccess(out.dialer);
    const a = expectSuccess(out.acceptor);
    const toWest = await new RecordSealer(d.secrets.send).seal(new TextEncoder().encode("hello west"));
    const opened = await new RecordOpener(a.secrets.receive).open(toWest);
    expect(opened.type === "data" && new TextDecoder().decode(opened.data)).toBe("hello west");
    const toEast = await new RecordSealer(a.secrets.send).seal(Uint8Array.of(7));
    expect((await new RecordOpener(d.secrets.receive).open(toEast)).type).toBe("data");
  });

  it("the certificate's messages travel encrypted: no certificate bytes appear on the wire", async () => {
    const { dialer, acceptor, net } = await pair();
    const out = await connect(dialer, acceptor);
    const wire = concatBytes(...out.log.toAcceptor, ...out.log.toDialer);
    const needle = net.east.certificate.subarray(40, 72);
    const text = Array.from(wire).join(",");
    expect(text.includes(Array.from(needle).join(","))).toBe(false);
  });
});

describe("SL1 handshake: certificates", () => {
  it("rejects a dialer certificate from a rogue CA with the same name, and the dialer learns unknown_ca", async () => {
    const net = await network();
    const { dialer, acceptor } = await pair({ identity: net.eastRogue });
    const out = await connect(dialer, acceptor);
    const a = expectFailure(out.acceptor);
    expect(a).toBeInstanceOf(SecurityError);
    expect(a.message).toMatch(/not issued by this site's CA \(rogue or wrong CA\)/);
    expect(expectFailure(out.dialer).message).toMatch(/the acceptor refused the link handshake: unknown_ca/);
  });

  it("rejects an expired dialer certificate and a not-yet-valid one (beyond 5 minutes of skew)", async () => {
    const net = await network();
    const later = Date.now() + 40 * day;
    const expired = await pair({}, { now: () => later });
    const out = await connect(expired.dialer, expired.acceptor);
    expect(expectFailure(out.acceptor).message).toMatch(/certificate for "east" expired at/);
    const early = Date.now() - 20 * 60_000;
    const out2 = await connect(
      createHandshake({ role: "dialer", identity: net.east, trust: net.ca.trust, expectedPeerName: "west" }),
      createHandshake({ role: "acceptor", identity: net.west, trust: net.ca.trust, now: () => early }),
    );
    expect(expectFailure(out2.acceptor).message).toMatch(/is not valid until/);
    expect(expectFailure(out2.dialer).message).toMatch(/certificate_expired/);
  });

  it("rejects an acceptor that is another site: the dialer dials west, north answers", async () => {
    const { dialer, acceptor } = await pair({ expectedPeerName: "north" });
    const out = await connect(dialer, acceptor);
    expect(expectFailure(out.dialer).message).toBe('certificate is for site "west", but this link expects "north"');
    expect(expectFailure(out.acceptor).message).toMatch(/the dialer refused the link handshake: unrecognized_name/);
  });

  it("rejects an insider: mallory, certified by the same CA, answering a dial to west", async () => {
    const net = await network();
    const { dialer, acceptor } = await pair({}, { identity: net.mallory });
    const out = await connect(dialer, acceptor);
    expect(expectFailure(out.dialer).message).toMatch(/is for site "mallory", but this link expects "west"/);
    expect(out.acceptor?.ok).not.toBe(true);
  });

  it("rejects when the acceptor pins a different CA", async () => {
    const net = await network();
    const { dialer, acceptor } = await pair({}, { trust: net.rogueCa.trust });
    const out = await connect(dialer, acceptor);
    expect(expectFailure(out.acceptor).message).toMatch(/rogue or wrong CA/);
    expect(out.dialer?.ok).not.toBe(true);
  });

  it("rejects a site the acceptor's authorizer refuses (revoked or unknown), with access_denied", async () => {
    const { dialer, acceptor } = await pair({}, { authorize: (peer) => peer.siteName !== "east" });
    const out = await connect(dialer, acceptor);
    expect(expectFailure(out.acceptor).message).toBe('site "east" is not allowed to link to this site (revoked or unknown)');
    expect(expectFailure(out.dialer).message).toMatch(/access_denied/);
  });

  it("rejects certificates with the wrong extended key usage for their end of the link", async () => {
    const net = await network();
    const { generateSiteKey } = await import("../../../src/ca/keys.ts");
    const key = await generateSiteKey();
    const serverOnly = await makeLeaf(net.ca, {
      publicKey: key.keyPair.publicKey,
      replaceExtensions: true,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: "dns", value: "east" }]),
      ],
    });
    const { dialer, acceptor } = await pair({ identity: { certificate: serverOnly, privateKey: key.keyPair.privateKey } });
    const out = await connect(dialer, acceptor);
    expect(expectFailure(out.acceptor).message).toMatch(/not allowed for clientAuth/);
    expect(expectFailure(out.dialer).message).toMatch(/unsupported_certificate/);
  });

  it("rejects a dialer whose private key does not match its certificate (bad CertificateVerify)", async () => {
    const net = await network();
    const other = await identity(net.ca, "east");
    const { dialer, acceptor } = await pair({ identity: { certificate: net.east.certificate, privateKey: other.privateKey } });
    const out = await connect(dialer, acceptor);
    expect(expectFailure(out.acceptor).message).toMatch(/CertificateVerify does not verify for site "east"/);
    expect(expectFailure(out.dialer).message).toMatch(/decrypt_error/);
  });
});

describe("SL1 handshake: active attackers", () => {
  it("rejects a man in the middle who swaps the ServerHello key share", async () => {
    const { dialer, acceptor } = await pair();
    const mitm = await x25519();
    const out = await connect(dialer, acceptor, {
      toDialer: (m, i) => {
        if (i !== 0) return [m];
        const changed = m.slice();
        changed.set(mitm.share, 2 + 4 + 33);
        return [changed];
      },
    });
    expect(expectFailure(out.dialer)).toBeInstanceOf(SecurityError);
    expect(out.acceptor?.ok).not.toBe(true);
  });

  it("rejects a full-relay man in the middle who re-encrypts the acceptor's genuine flight", async () => {
    const net = await network();
    const dialer = createHandshake({ role: "dialer", identity: net.east, trust: net.ca.trust, expectedPeerName: "west" });
    const acceptor = createHandshake({ role: "acceptor", identity: net.west, trust: net.ca.trust });
    await acceptor.start();
    const [dialerHello] = await dialer.start();
    // The attacker runs its own X25519 with the acceptor...
    const toAcceptor = await x25519();
    const ch2 = encodeHello(HandshakeType.ClientHello, { random: crypto.getRandomValues(new Uint8Array(32)), keyShare: toAcceptor.share });
    const [shMsg, flightMsg] = (await acceptor.receive(encodeMessage(ContentType.Handshake, ch2))).send as [Uint8Array, Uint8Array];
    const shFrame = shMsg.subarray(2);
    const sSecrets = await deriveHandshakeSecrets(
      await agree(toAcceptor.keys, shFrame.subarray(4 + 33)),
      await sha256(concatBytes(ch2, shFrame)),
    );
    const genuine = decodeAuthFlight((await decryptRecord(await deriveTrafficKey(sSecrets.serverHandshake), 0, flightMsg)).payload);
    // ...and another with the dialer, then replays west's Certificate and CertificateVerify with a fresh Finished.
    const toDialer = await x25519();
    const ch = decodePlaintextMessage(dialerHello!);
    if (ch.kind !== "handshake") throw new Error("expected hello");
    const sh2 = encodeHello(HandshakeType.ServerHello, { random: crypto.getRandomValues(new Uint8Array(32)), keyShare: toDialer.share });
    const dSecrets = await deriveHandshakeSecrets(
      await agree(toDialer.keys, ch.frame.body.subarray(33)),
      await sha256(concatBytes(ch.frame.raw, sh2)),
    );
    const cert = genuine.certificate.raw;
    const cv = genuine.certificateVerify.raw;
    const fin = encodeFinished(await computeFinished(dSecrets.serverHandshake, await sha256(concatBytes(ch.frame.raw, sh2, cert, cv))));
    await dialer.receive(encodeMessage(ContentType.Handshake, sh2));
    const relayed = await encryptRecord(await deriveTrafficKey(dSecrets.serverHandshake), 0, ContentType.Handshake, concatBytes(cert, cv, fin));
    await expect(dialer.receive(relayed)).rejects.toThrow(/CertificateVerify does not verify for site "west"/);
    expect(dialer.state).toBe("failed");
  });

  it("rejects the acceptor's own flight reflected back to it", async () => {
    const { dialer, acceptor } = await pair();
    let acceptorFlight: Uint8Array | undefined;
    const out = await connect(dialer, acceptor, {
      toDialer: (m, i) => {
        if (i === 1) acceptorFlight = m;
        return [m];
      },
      toAcceptor: (m, i) => (i === 1 && acceptorFlight ? [acceptorFlight] : [m]),
    });
    const err = expectFailure(out.acceptor);
    expect(err.message).toMatch(/bad_record_mac/);
    expect(out.dialer?.ok).not.toBe(true);
  });

  it("rejects a dialer flight replayed from an earlier session", async () => {
    const first = await pair();
    const old = await connect(first.dialer, first.acceptor);
    expectSuccess(old.acceptor);
    const oldFlight = old.log.toAcceptor[1]!;
    const { dialer, acceptor } = await pair();
    const out = await connect(dialer, acceptor, { toAcceptor: (m, i) => (i === 1 ? [oldFlight] : [m]) });
    expect(expectFailure(out.acceptor)).toBeInstanceOf(SecurityError);
  });

  it("rejects flights whose messages are out of order, missing, repeated or trailed by extra bytes", async () => {
    const cases: [string, Parameters<typeof forgedAcceptorReply>[2], RegExp][] = [
      ["CertificateVerify first", (f) => concatBytes(f.certificateVerify, f.certificate, f.finished), /expected Certificate, got CertificateVerify/],
      ["no Finished", (f) => concatBytes(f.certificate, f.certificateVerify), /has 2 frames, expected 3/],
      ["Finished twice", (f) => concatBytes(f.certificate, f.certificateVerify, f.finished, f.finished), /trailing bytes/],
      ["a stray byte", (f) => concatBytes(f.certificate, f.certificateVerify, f.finished, Uint8Array.of(0)), /trailing bytes/],
      ["a short signature", (f) => concatBytes(f.certificate, Uint8Array.of(15, 0, 0, 1, 0), f.finished), /CertificateVerify body is 1 bytes/],
      ["a wrong Finished", (f) => { const x = f.finished.slice(); x[10]! ^= 1; return concatBytes(f.certificate, f.certificateVerify, x); }, /Finished MAC does not verify/],
    ];
    for (const [name, arrange, expected] of cases) {
      const err = await dialerAgainstForgedAcceptor(arrange);
      expect(err, name).toBeInstanceOf(SkiffError);
      expect(err.message, name).toMatch(expected);
    }
  });
});

describe("SL1 handshake: malformed and unexpected messages", () => {
  const malformedHellos: [string, Uint8Array][] = [
    ["empty", new Uint8Array(0)],
    ["1 byte", Uint8Array.of(1)],
    ["header only", Uint8Array.of(1, 0x16)],
    ["wrong version", Uint8Array.of(9, 0x16, 1, 0, 0, 65, ...new Uint8Array(65))],
    ["a data record", Uint8Array.of(1, 0x17, ...new Uint8Array(40))],
    ["wrong message type", Uint8Array.of(1, 0x16, 2, 0, 0, 65, 1, ...new Uint8Array(64))],
    ["huge length field", Uint8Array.of(1, 0x16, 1, 0xff, 0xff, 0xff, 1)],
    ["short body", Uint8Array.of(1, 0x16, 1, 0, 0, 3, 1, 2, 3)],
    ["hello version 2", Uint8Array.of(1, 0x16, 1, 0, 0, 65, 2, ...new Uint8Array(64))],
    ["oversized message", new Uint8Array(9000).fill(1)],
  ];
  for (const [name, bytes] of malformedHellos) {
    it(`acceptor rejects a malformed ClientHello (${name}) with ProtocolError`, async () => {
      const { acceptor } = await pair();
      await acceptor.start();
      const err = await within(acceptor.receive(bytes)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ProtocolError);
      expect(acceptor.state).toBe("failed");
      const alert = await acceptor.abort();
      expect(alert && Array.from(alert)).toEqual([1, 0x15, 50]); // plaintext decode_error
    });
  }

  it("acceptor rejects an all-zero (low-order) X25519 key share", async () => {
    const { acceptor } = await pair();
    await acceptor.start();
    const hello = encodeHello(HandshakeType.ClientHello, { random: new Uint8Array(32), keyShare: new Uint8Array(32) });
    await expect(within(acceptor.receive(encodeMessage(ContentType.Handshake, hello)))).rejects.toThrow(/X25519/);
  });

  it("rejects a non-binary message", async () => {
    const { acceptor } = await pair();
    await acceptor.start();
    await expect(acceptor.receive("hello" as unknown as Uint8Array)).rejects.toBeInstanceOf(ProtocolError);
  });

  it("acceptor rejects the dialer's flight arriving before a ClientHello", async () => {
    const first = await pair();
    const old = await connect(first.dialer, first.acceptor);
    const { acceptor } = await pair();
    await acceptor.start();
    await expect(acceptor.receive(old.log.toAcceptor[1]!)).rejects.toBeInstanceOf(ProtocolError);
  });

  it("dialer rejects an encrypted flight where the ServerHello should be, and a second ServerHello", async () => {
    const first = await pair();
    const old = await connect(first.dialer, first.acceptor);
    const a = await pair();
    await a.dialer.start();
    await expect(a.dialer.receive(old.log.toDialer[1]!)).rejects.toBeInstanceOf(ProtocolError);
    const b = await pair();
    const [hello] = await b.dialer.start();
    await b.acceptor.start();
    const [sh] = (await b.acceptor.receive(hello!)).send;
    await b.dialer.receive(sh!);
    // Once keys exist, anything that is not the expected encrypted record fails authentication.
    await expect(b.dialer.receive(sh!)).rejects.toThrow(/bad_record_mac/);
  });

  it("rejects a message before start(), messages after done and after failure, and a second start()", async () => {
    const { dialer, acceptor } = await pair();
    await expect(acceptor.receive(Uint8Array.of(1, 0x16))).rejects.toBeInstanceOf(ProtocolError);
    const second = await pair();
    const out = await connect(second.dialer, second.acceptor);
    expectSuccess(out.dialer);
    await expect(second.dialer.receive(out.log.toDialer[2]!)).rejects.toThrow(/complete/);
    await expect(second.dialer.start()).rejects.toBeInstanceOf(ClosedError);
    expect(await second.dialer.abort()).toBeUndefined();
    await dialer.start();
    const failure = await dialer.receive(new Uint8Array(0)).catch((e: unknown) => e);
    await expect(dialer.receive(new Uint8Array(0))).rejects.toBe(failure);
  });

  it("a dialer must name the site it dials", async () => {
    const net = await network();
    expect(() => createHandshake({ role: "dialer", identity: net.east, trust: net.ca.trust })).toThrow(TypeError);
  });

  it("abort() after keys exist sends an encrypted alert that the peer reads as a refusal", async () => {
    const { dialer, acceptor } = await pair();
    await acceptor.start();
    const [hello] = await dialer.start();
    const [sh] = (await acceptor.receive(hello!)).send;
    await dialer.receive(sh!);
    const alert = await dialer.abort(new SecurityError("the link's handshake deadline passed"));
    expect(alert!.byteLength).toBeGreaterThan(3);
    expect(await dialer.abort()).toBeUndefined();
    await expect(acceptor.receive(alert!)).rejects.toThrow(/the dialer refused the link handshake: handshake_failure$/);
  });

  it("a peer's plaintext alert ends the handshake and is marked unauthenticated", async () => {
    const { dialer } = await pair();
    await dialer.start();
    await expect(dialer.receive(Uint8Array.of(1, 0x15, 49))).rejects.toThrow(
      /the acceptor refused the link handshake: access_denied .*\(unauthenticated\)/,
    );
  });
});
