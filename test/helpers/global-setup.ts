// Builds the bundle (bin/bundle.mjs) once before the suite, so that the
// Node and Deno sites the tests start all find it instead of each building one.

import { skiffBundle } from "../../bin/bundle.mjs";

export default async function setup(): Promise<void> {
  await skiffBundle();
}
