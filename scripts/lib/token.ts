// Asks a running site (by its state directory) for an access token, as
// `skiff token issue` does, for scripts that build networks on one machine.

import { readFileSync } from "node:fs";
import path from "node:path";

/** AccessToken YAML from the site whose state directory is `stateDir`, named `linkName`. */
export async function issueToken(stateDir: string, linkName: string, options: { cost?: number; redemptionsAllowed?: number } = {}): Promise<string> {
  const endpoint = JSON.parse(readFileSync(path.join(stateDir, "admin.json"), "utf8")) as { url: string };
  const secret = readFileSync(path.join(stateDir, "admin-secret"), "utf8").trim();
  const response = await fetch(`${endpoint.url}/v1/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({ linkCost: options.cost, redemptionsAllowed: options.redemptionsAllowed }),
  });
  const answer = (await response.json()) as { token?: string; error?: string };
  if (answer.token === undefined) throw new Error(`no token from the site in ${stateDir}: ${answer.error ?? response.status}`);
  return answer.token.replace(/^metadata:\n  name: .*$/m, `metadata:\n  name: ${linkName}`);
}
