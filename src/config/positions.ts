// Finds the line and column of a field inside a parsed YAML (or JSON) node, so every
// configuration issue points at the value that is wrong, or at the nearest thing that exists.

import { isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from "yaml";

export interface Position {
  line: number;
  column: number;
}

function at(lineCounter: LineCounter, offset: number): Position {
  const { line, col } = lineCounter.linePos(offset);
  return { line, column: col };
}

/** Start of a node; for an empty value (`port:` with nothing after it) the caller uses the key instead. */
function isEmptyScalar(node: Node): boolean {
  return isScalar(node) && node.value === null && (!node.range || node.range[0] === node.range[1]);
}

interface Step {
  key?: Node;
  value?: Node | null;
}

function child(node: Node | null | undefined, segment: PropertyKey): Step | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const key = pair.key as Node | null;
      const name = isScalar(key) ? key.value : key;
      if (String(name) === String(segment)) return { key: key ?? undefined, value: pair.value as Node | null };
    }
    return undefined;
  }
  if (isSeq(node) && typeof segment === "number") {
    const item = node.items[segment] as Node | undefined;
    return item === undefined ? undefined : { value: item };
  }
  return undefined;
}

function nodeStart(lineCounter: LineCounter, node: Node | null | undefined): Position | undefined {
  if (!node || !node.range) return undefined;
  return at(lineCounter, node.range[0]);
}

/**
 * Position of `path` under `root`: the value's node when it exists (its key when the
 * value is empty), else the key of the deepest parent that exists, else `root` itself.
 */
export function positionOf(
  lineCounter: LineCounter,
  root: Node | null | undefined,
  path: readonly PropertyKey[],
  fallback: Position,
): Position {
  let node: Node | null | undefined = root;
  let lastKey: Node | undefined;
  for (const segment of path) {
    const step = child(node, segment);
    if (!step) return nodeStart(lineCounter, lastKey) ?? nodeStart(lineCounter, node) ?? fallback;
    node = step.value;
    lastKey = step.key;
  }
  if (node && !isEmptyScalar(node)) return nodeStart(lineCounter, node) ?? fallback;
  return nodeStart(lineCounter, lastKey) ?? nodeStart(lineCounter, node) ?? fallback;
}

/** Position of the key `name` in the mapping at `path` (for unknown fields). */
export function keyPositionOf(
  lineCounter: LineCounter,
  root: Node | null | undefined,
  path: readonly PropertyKey[],
  name: string,
  fallback: Position,
): Position {
  let node: Node | null | undefined = root;
  for (const segment of path) {
    const step = child(node, segment);
    if (!step) return positionOf(lineCounter, root, path, fallback);
    node = step.value;
  }
  const step = child(node, name);
  return nodeStart(lineCounter, step?.key) ?? positionOf(lineCounter, root, path, fallback);
}

/** Position of a byte offset in the text. */
export function offsetPosition(lineCounter: LineCounter, offset: number): Position {
  return at(lineCounter, offset);
}
