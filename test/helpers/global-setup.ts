// Builds the Node bundle (bin/node-bundle.mjs) once before the suite, so that
// the Node sites the tests start all find it instead of each building one.

import { nodeBundle } from "../../bin/node-bundle.mjs";

export default async function setup(): Promise<void> {
  await nodeBundle();
}
