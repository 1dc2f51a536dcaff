// The SL1 key schedule reproduces RFC 8448 section 3 ("Simple 1-RTT
// Handshake") when given TLS 1.3's label prefix, and differs from TLS with
// Skiff's own prefix.

import { describe, expect, it } from "vitest";
import {
  computeFinished,
  deriveApplicationSecrets,
  deriveHandshakeSecrets,
  deriveSecret,
  deriveTrafficKey,
  hkdfExpandLabel,
  hkdfExtract,
  nextTrafficSecret,
  sha256,
  skiffLabelPrefix,
  verifyFinished,
} from "../../../src/link/handshake-keys.ts";
import { decryptRecord, encryptRecord } from "../../../src/link/records.ts";
import { ContentType } from "../../../src/protocol/handshake.ts";
import { hex, unhex } from "./helpers.ts";

const tls = "tls13 ";
const rfc = {
  ecdhe: "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d",
  early: "33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a",
  derivedEarly: "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba",
  handshake: "1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac",
  helloHash: "860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8",
  clientHs: "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21",
  serverHs: "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38",
  derivedHs: "43de77e0c77713859a944db9db2590b53190a65b3ee2e4f12dd7a0bb7ce254b4",
  master: "18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919",
  serverFinishedHash: "9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13",
  clientAp: "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5",
  serverAp: "a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643",
  exporter: "fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50",
  serverHsKey: "3fce516009c21727d0f2e4e86ee403bc",
  serverHsIv: "5d313eb2671276ee13000b30",
  clientHsKey: "dbfaa693d1762c5b666af5d950258d01",
  clientHsIv: "5bd3c71b836e0b76bb73265f",
  serverApKey: "9f02283b6c9c07efc26bb9f2ac92e356",
  serverApIv: "cf782b88dd83549aadf1e984",
  clientApKey: "17422dda596ed5d9acd890e3c63f5051",
  clientApIv: "5b78923dee08579033e523d9",
  serverFinishedKey: "008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8",
  clientFinishedKey: "b80ad01015fb2f0bd65ff7d4da5d6bf83f84821d1f87fdc7d3c75b5a7b42d9c4",
  clientFinished: "a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61",
};

describe("SL1 key schedule with the TLS prefix reproduces RFC 8448 section 3", () => {
  it("early secret and the derived salt", async () => {
    const early = await hkdfExtract(new Uint8Array(32), new Uint8Array(32));
    expect(hex(early)).toBe(rfc.early);
    expect(hex(await deriveSecret(early, "derived", await sha256(new Uint8Array(0)), tls))).toBe(rfc.derivedEarly);
  });

  it("deriveHandshakeSecrets gives the handshake traffic secrets and the master secret", async () => {
    const secrets = await deriveHandshakeSecrets(unhex(rfc.ecdhe), unhex(rfc.helloHash), tls);
    expect(hex(secrets.clientHandshake)).toBe(rfc.clientHs);
    expect(hex(secrets.serverHandshake)).toBe(rfc.serverHs);
    expect(hex(secrets.master)).toBe(rfc.master);
  });

  it("the handshake secret and the derived salt before the master secret", async () => {
    const early = await hkdfExtract(new Uint8Array(32), new Uint8Array(32));
    const handshake = await hkdfExtract(unhex(rfc.derivedEarly), unhex(rfc.ecdhe));
    expect(hex(handshake)).toBe(rfc.handshake);
    expect(hex(await deriveSecret(handshake, "derived", await sha256(new Uint8Array(0)), tls))).toBe(rfc.derivedHs);
    expect(early.byteLength).toBe(32);
  });

  it("deriveApplicationSecrets gives the application traffic and exporter secrets", async () => {
    const app = await deriveApplicationSecrets(unhex(rfc.master), unhex(rfc.serverFinishedHash), tls);
    expect(hex(app.clientApplication)).toBe(rfc.clientAp);
    expect(hex(app.serverApplication)).toBe(rfc.serverAp);
    expect(hex(app.exporter)).toBe(rfc.exporter);
  });

  it("HKDF-Expand-Label gives the traffic keys and IVs (AES-128 lengths in the RFC)", async () => {
    const empty = new Uint8Array(0);
    const pairs: [string, string, string][] = [
      [rfc.serverHs, rfc.serverHsKey, rfc.serverHsIv],
      [rfc.clientHs, rfc.clientHsKey, rfc.clientHsIv],
      [rfc.serverAp, rfc.serverApKey, rfc.serverApIv],
      [rfc.clientAp, rfc.clientApKey, rfc.clientApIv],
    ];
    for (const [secret, key, iv] of pairs) {
      expect(hex(await hkdfExpandLabel(unhex(secret), "key", empty, 16, tls))).toBe(key);
      expect(hex(await hkdfExpandLabel(unhex(secret), "iv", empty, 12, tls))).toBe(iv);
    }
  });

  it("Finished keys and the client's Finished MAC", async () => {
    const empty = new Uint8Array(0);
    expect(hex(await hkdfExpandLabel(unhex(rfc.serverHs), "finished", empty, 32, tls))).toBe(rfc.serverFinishedKey);
    expect(hex(await hkdfExpandLabel(unhex(rfc.clientHs), "finished", empty, 32, tls))).toBe(rfc.clientFinishedKey);
    const mac = await computeFinished(unhex(rfc.clientHs), unhex(rfc.serverFinishedHash), tls);
    expect(hex(mac)).toBe(rfc.clientFinished);
    expect(await verifyFinished(unhex(rfc.clientHs), mac, unhex(rfc.serverFinishedHash), tls)).toBe(true);
    mac[31]! ^= 1;
    expect(await verifyFinished(unhex(rfc.clientHs), mac, unhex(rfc.serverFinishedHash), tls)).toBe(false);
  });
});

describe("SL1 key schedule with Skiff's prefix", () => {
  it("uses the prefix 'skiff1 ', so its secrets differ from TLS 1.3's for the same inputs", async () => {
    expect(skiffLabelPrefix).toBe("skiff1 ");
    const secrets = await deriveHandshakeSecrets(unhex(rfc.ecdhe), unhex(rfc.helloHash));
    expect(hex(secrets.clientHandshake)).not.toBe(rfc.clientHs);
    expect(hex(secrets.serverHandshake)).not.toBe(rfc.serverHs);
    expect(hex(secrets.clientHandshake)).not.toBe(hex(secrets.serverHandshake));
  });

  it("a key update ratchets with 'traffic upd' to a different key", async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const next = await nextTrafficSecret(secret);
    expect(hex(next)).not.toBe(hex(secret));
    expect(hex(await hkdfExpandLabel(secret, "traffic upd", new Uint8Array(0), 32))).toBe(hex(next));
  });

  it("deriveTrafficKey makes a 256-bit AES-GCM key that cannot be exported", async () => {
    const key = await deriveTrafficKey(crypto.getRandomValues(new Uint8Array(32)));
    expect(key.key.extractable).toBe(false);
    expect((key.key.algorithm as AesKeyAlgorithm).length).toBe(256);
    expect(key.iv.byteLength).toBe(12);
    const record = await encryptRecord(key, 7, ContentType.Data, Uint8Array.of(1, 2, 3));
    expect(Array.from((await decryptRecord(key, 7, record)).payload)).toEqual([1, 2, 3]);
  });
});
