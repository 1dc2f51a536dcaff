// The one place that loads @peculiar/x509: its tsyringe dependency needs the
// Reflect metadata polyfill first, and it must use the runtime's own WebCrypto.

import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
