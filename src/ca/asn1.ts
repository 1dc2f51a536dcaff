// DER encoding of the few ASN.1 types Skiff's certificates and CSRs use, and
// the decoders of the values it reads back (object identifiers, times, names).
// Hand-written so that a running site needs no general ASN.1 library: Skiff
// issues one narrow certificate profile and reads only what decides trust.

import { DerError, readChildren, readTlv, type Tlv } from "./der.ts";

export const tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  teletexString: 0x14,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  universalString: 0x1c,
  bmpString: 0x1e,
  sequence: 0x30,
  set: 0x31,
} as const;

function lengthBytes(length: number): number[] {
  if (length < 0x80) return [length];
  const out: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) out.unshift(n & 0xff);
  return [0x80 | out.length, ...out];
}

/** One DER element: tag, minimal length, the concatenated contents. */
export function tlv(tagByte: number, ...contents: Uint8Array[]): Uint8Array {
  const size = contents.reduce((sum, c) => sum + c.byteLength, 0);
  const header = [tagByte, ...lengthBytes(size)];
  const out = new Uint8Array(header.length + size);
  out.set(header, 0);
  let offset = header.length;
  for (const c of contents) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

export const sequence = (...contents: Uint8Array[]): Uint8Array => tlv(tag.sequence, ...contents);
export const set = (...contents: Uint8Array[]): Uint8Array => tlv(tag.set, ...contents);
export const octetString = (bytes: Uint8Array): Uint8Array => tlv(tag.octetString, bytes);
export const booleanTrue = (): Uint8Array => tlv(tag.boolean, Uint8Array.of(0xff));
/** A BIT STRING of whole bytes. */
export const bitString = (bytes: Uint8Array, unusedBits = 0): Uint8Array => tlv(tag.bitString, Uint8Array.of(unusedBits), bytes);

/** A non-negative INTEGER from its big-endian magnitude, minimally encoded. */
export function unsignedInteger(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.byteLength - 1 && magnitude[start] === 0) start++;
  const value = magnitude.subarray(start);
  if (value.byteLength === 0) return tlv(tag.integer, Uint8Array.of(0));
  return value[0]! & 0x80 ? tlv(tag.integer, Uint8Array.of(0), value) : tlv(tag.integer, value);
}

export function smallInteger(value: number): Uint8Array {
  const bytes: number[] = [];
  for (let n = value; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return unsignedInteger(Uint8Array.from(bytes));
}

export function objectIdentifier(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  const out: number[] = [];
  const push = (n: number) => {
    const groups = [n & 0x7f];
    for (n = Math.floor(n / 128); n > 0; n = Math.floor(n / 128)) groups.unshift(0x80 | (n & 0x7f));
    out.push(...groups);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const arc of arcs.slice(2)) push(arc);
  return tlv(tag.oid, Uint8Array.from(out));
}

export function decodeObjectIdentifier(element: Tlv): string {
  if (element.tag !== tag.oid || element.contents.byteLength === 0) throw new DerError("expected an OBJECT IDENTIFIER");
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < element.contents.byteLength; i++) {
    const byte = element.contents[i]!;
    if (value === 0 && byte === 0x80) throw new DerError("OBJECT IDENTIFIER is not minimally encoded");
    value = value * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(value);
      value = 0;
    } else if (i === element.contents.byteLength - 1) {
      throw new DerError("truncated OBJECT IDENTIFIER");
    }
  }
  const first = arcs.shift()!;
  const top = first < 40 ? 0 : first < 80 ? 1 : 2;
  return [top, first - top * 40, ...arcs].join(".");
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5); whole seconds. */
export function time(date: Date): Uint8Array {
  const iso = date.toISOString();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "") + "Z";
  const year = date.getUTCFullYear();
  const text = year >= 1950 && year < 2050 ? digits.slice(2) : digits;
  return tlv(year >= 1950 && year < 2050 ? tag.utcTime : tag.generalizedTime, new TextEncoder().encode(text));
}

export function decodeTime(element: Tlv): Date {
  const text = latin1(element.contents);
  let match: RegExpMatchArray | null;
  let year: number;
  if (element.tag === tag.utcTime && (match = text.match(/^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/))) {
    year = Number(match[1]);
    year += year >= 50 ? 1900 : 2000;
  } else if (element.tag === tag.generalizedTime && (match = text.match(/^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/))) {
    year = Number(match[1]);
  } else {
    throw new DerError("expected a UTCTime or GeneralizedTime in the form DER requires");
  }
  const [month, day, hour, minute, second] = match.slice(2).map(Number) as [number, number, number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new DerError(`invalid date ${text}`);
  }
  return date;
}

function latin1(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += String.fromCharCode(b);
  return out;
}

const printable = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/** A directory string: PrintableString when it can be, UTF8String otherwise. */
export function directoryString(value: string): Uint8Array {
  return printable.test(value) ? tlv(tag.printableString, new TextEncoder().encode(value)) : tlv(tag.utf8String, new TextEncoder().encode(value));
}

export function decodeString(element: Tlv): string | undefined {
  switch (element.tag) {
    case tag.utf8String:
      return new TextDecoder("utf-8", { fatal: true }).decode(element.contents);
    case tag.printableString:
    case tag.ia5String:
    case tag.teletexString:
      return latin1(element.contents);
    case tag.bmpString: {
      if (element.contents.byteLength % 2) throw new DerError("odd-length BMPString");
      let out = "";
      for (let i = 0; i < element.contents.byteLength; i += 2) out += String.fromCharCode((element.contents[i]! << 8) | element.contents[i + 1]!);
      return out;
    }
    default:
      return undefined;
  }
}

const oidCommonName = "2.5.4.3";
const attributeNames: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "0.9.2342.19200300.100.1.25": "DC",
  "1.2.840.113549.1.9.1": "E",
};

/** A Name with one common name, as Skiff's certificates carry. */
export function commonNameName(commonName: string): Uint8Array {
  return sequence(set(sequence(objectIdentifier(oidCommonName), directoryString(commonName))));
}

export interface NameAttribute {
  type: string;
  value: string | undefined;
  raw: Uint8Array;
}

/** The attributes of a DER Name, relative distinguished name by name. */
export function decodeName(name: Uint8Array): NameAttribute[][] {
  const outer = readTlv(name, 0);
  if (outer.tag !== tag.sequence || outer.raw.byteLength !== name.byteLength) throw new DerError("a Name is not one SEQUENCE");
  return readChildren(outer.contents).map((rdn) => {
    if (rdn.tag !== tag.set) throw new DerError("a relative distinguished name is not a SET");
    const attributes = readChildren(rdn.contents);
    if (attributes.length === 0) throw new DerError("empty relative distinguished name");
    return attributes.map((attribute) => {
      if (attribute.tag !== tag.sequence) throw new DerError("a name attribute is not a SEQUENCE");
      const parts = readChildren(attribute.contents);
      if (parts.length !== 2) throw new DerError("a name attribute must hold a type and a value");
      return { type: decodeObjectIdentifier(parts[0]!), value: decodeString(parts[1]!), raw: parts[1]!.raw };
    });
  });
}

function escapeValue(value: string): string {
  return value.replace(/[,+"\\<>;]/g, (c) => `\\${c}`).replace(/^[ #]|[ ]$/g, (c) => `\\${c}`);
}

/** A Name as text in the RFC 4514 style, e.g. "CN=west site CA". */
export function formatName(name: Uint8Array): string {
  const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return decodeName(name)
    .map((rdn) =>
      rdn
        .map((a) => `${attributeNames[a.type] ?? a.type}=${a.value === undefined ? `#${hex(a.raw)}` : escapeValue(a.value)}`)
        .join("+"),
    )
    .join(", ");
}

/** The first common name in a Name, if any. */
export function commonNameOf(name: Uint8Array): string | undefined {
  for (const rdn of decodeName(name)) for (const a of rdn) if (a.type === oidCommonName && a.value !== undefined) return a.value;
  return undefined;
}
