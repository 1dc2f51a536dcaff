// Durations written the way Skupper (and Go) write them: `90s`, `15m`, `1h30m`, `500ms`.
// Pure functions; the schema uses them to check and convert `expirationWindow`.

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/**
 * Parses a duration such as `90s`, `15m`, `1h30m` or `500ms` into milliseconds
 * (rounded to a whole millisecond). Units: `h`, `m`, `s`, `ms`; parts may repeat
 * in any order and are added. Throws a RangeError for anything else.
 */
export function parseDuration(text: string): number {
  if (typeof text !== "string" || !WHOLE.test(text)) {
    throw new RangeError(`expected a duration such as 90s, 15m or 1h30m, found ${JSON.stringify(text)}`);
  }
  let ms = 0;
  for (const match of text.matchAll(PART)) {
    ms += Number(match[1]) * (UNIT_MS[match[2]!] ?? 0);
  }
  return Math.round(ms);
}

/** True when `text` is a duration that parseDuration accepts. */
export function isDuration(text: unknown): text is string {
  return typeof text === "string" && WHOLE.test(text);
}

/** Writes milliseconds back in the shortest `1h30m`-style form (`0s` for zero). */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  let rest = ms;
  let out = "";
  for (const unit of ["h", "m", "s", "ms"]) {
    const size = UNIT_MS[unit]!;
    const count = Math.floor(rest / size);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * size;
    }
  }
  return out;
}
