// Site names as they appear in certificates: lowercase DNS names (RFC 1123
// labels joined by dots), at most 253 characters. Wildcards are never valid.

const label = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const siteNamePattern = new RegExp(`^${label}(?:\\.${label})*$`);

export const maxSiteNameLength = 253;

export function isValidSiteName(name: string): boolean {
  return typeof name === "string" && name.length <= maxSiteNameLength && siteNamePattern.test(name);
}

/** Quote a name for an error message, cutting anything long or strange. */
export function quoteName(name: string): string {
  const cut = name.length > 80 ? `${name.slice(0, 80)}...` : name;
  return JSON.stringify(cut);
}
