// @peculiar/x509 for the tests only: an independent X.509 implementation to
// check Skiff's own encoding (certificate.ts) against and to craft certificates
// Skiff would never issue. A site does not load it: with its ASN.1 and
// dependency-injection packages it cost 8-11 MB of RSS on every runtime.
// Its tsyringe dependency needs the Reflect metadata polyfill first, and it
// must use the runtime's own WebCrypto.

import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
