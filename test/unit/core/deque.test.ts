import { describe, expect, it } from "vitest";
import { Deque } from "../../../src/core/deque.ts";

/** A deque whose items wrap around the end of its ring: `shifted` taken from the front first. */
function wrapped(count: number, shifted: number): Deque<number> {
  const deque = new Deque<number>();
  for (let i = 0; i < shifted; i++) deque.push(-1);
  for (let i = 0; i < shifted; i++) deque.shift();
  for (let i = 0; i < count; i++) deque.push(i);
  return deque;
}

describe("Deque", () => {
  it("gives items back first in, first out, through growth and wrap-around", () => {
    const deque = wrapped(40, 10);
    const out: number[] = [];
    for (let item = deque.shift(); item !== undefined; item = deque.shift()) out.push(item);
    expect(out).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(deque.size).toBe(0);
  });

  it("puts an item back at the front with unshift()", () => {
    const deque = wrapped(3, 15);
    deque.unshift(99);
    expect([deque.shift(), deque.shift(), deque.peek(), deque.size]).toEqual([99, 0, 1, 2]);
  });

  it("at() reads the item that many places from the front, wherever it sits in the ring", () => {
    const deque = wrapped(12, 14);
    expect(Array.from({ length: 12 }, (_, i) => deque.at(i))).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(deque.at(0)).toBe(deque.peek());
  });

  it("at() is undefined past either end", () => {
    const deque = wrapped(5, 3);
    expect([deque.at(-1), deque.at(5), new Deque<number>().at(0)]).toEqual([undefined, undefined, undefined]);
  });
});
