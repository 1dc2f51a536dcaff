// Generates the field reference of docs/configuration.md from the schemas, so the
// documentation cannot drift from what the loader accepts.

import * as z from "zod";
import { ApiVersion, KINDS, Metadata, metaOf, SPEC_SCHEMAS, STATUS_REFUSED, unwrapSchema, type Kind } from "./schema.ts";

export interface FieldRow {
  /** `*` for the fields every resource has. */
  kind: Kind | "*";
  /** Dotted path inside the resource, `[]` for list items: `spec.roles[].port`. */
  field: string;
  type: string;
  /** `required`, `optional`, or the default value as written in YAML. */
  default: string;
  description: string;
}

export interface RefusedField {
  kind: Kind | "*";
  field: string;
  message: string;
}

function defaultText(schema: z.ZodType): string {
  const meta = metaOf(schema);
  if (meta?.defaultText) return meta.defaultText;
  for (const layer of unwrapSchema(schema)) {
    if (layer instanceof z.ZodDefault) {
      const value: unknown = layer._zod.def.defaultValue;
      if (typeof value === "string") return `\`${value}\``;
      if (typeof value === "object" && value !== null && Object.keys(value).length === 0) return "`{}`";
      return `\`${JSON.stringify(value)}\``;
    }
    if (layer instanceof z.ZodOptional) return "optional";
  }
  return "required";
}

function walk(kind: Kind | "*", prefix: string, object: z.ZodObject, rows: FieldRow[], refused: RefusedField[]): void {
  for (const [key, field] of Object.entries(object.shape as Record<string, z.ZodType>)) {
    const path = `${prefix}.${key}`;
    const meta = metaOf(field);
    if (meta?.refused) {
      refused.push({ kind, field: path, message: meta.description ?? "" });
      continue;
    }
    rows.push({
      kind,
      field: path,
      type: meta?.type ?? "",
      default: defaultText(field),
      description: meta?.description ?? "",
    });
    const inner = unwrapSchema(field).at(-1);
    if (inner instanceof z.ZodObject) walk(kind, path, inner, rows, refused);
    if (inner instanceof z.ZodArray) {
      const element = unwrapSchema(inner.element as z.ZodType).at(-1);
      if (element instanceof z.ZodObject) walk(kind, `${path}[]`, element, rows, refused);
    }
  }
}

/** Every field of every kind, in schema order, with the Skupper fields Skiff refuses. */
export function fieldTable(): { rows: FieldRow[]; refused: RefusedField[] } {
  const rows: FieldRow[] = [];
  const refused: RefusedField[] = [];
  rows.push({
    kind: "*",
    field: "apiVersion",
    type: metaOf(ApiVersion)?.type ?? "",
    default: "required",
    description: metaOf(ApiVersion)?.description ?? "",
  });
  rows.push({
    kind: "*",
    field: "kind",
    type: "string",
    default: "required",
    description: `One of ${KINDS.map((k) => `\`${k}\``).join(", ")}.`,
  });
  walk("*", "metadata", Metadata, rows, refused);
  refused.push({
    kind: "*",
    field: "status",
    message: STATUS_REFUSED,
  });
  for (const kind of KINDS) walk(kind, "spec", SPEC_SCHEMAS[kind], rows, refused);
  return { rows, refused };
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** The generated part of docs/configuration.md: one section per kind. */
export function renderFieldReference(): string {
  const { rows, refused } = fieldTable();
  const out: string[] = [];
  const sections: { kind: Kind | "*"; title: string; intro: string }[] = [
    { kind: "*", title: "Every resource", intro: "Fields every resource has, whatever its kind." },
    ...KINDS.map((kind) => ({ kind, title: kind, intro: metaOf(SPEC_SCHEMAS[kind])?.description ?? "" })),
  ];
  for (const { kind, title, intro } of sections) {
    out.push(`### ${title}`, "", intro, "");
    out.push("| Field | Type | Default | Meaning |", "|---|---|---|---|");
    for (const row of rows.filter((r) => r.kind === kind)) {
      out.push(`| \`${row.field}\` | ${cell(row.type)} | ${cell(row.default)} | ${cell(row.description)} |`);
    }
    const mine = refused.filter((r) => r.kind === kind);
    if (mine.length > 0) {
      out.push("", "Skupper fields refused, with the message given:", "");
      for (const r of mine) out.push(`- \`${r.field}\`: ${r.message}`);
    }
    out.push("");
  }
  return out.join("\n");
}
