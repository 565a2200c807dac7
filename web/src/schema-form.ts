// A form generated from a plugin's options JSON Schema (zod 4 `toJSONSchema`, io "input"):
// booleans become checkboxes, enums selects, numbers and strings inputs, anything else a JSON
// text area; defaults are pre-filled and descriptions shown as help text.
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { type Child, h, humanize } from "./dom.ts";

type Json = JsonValue;
type Schema = JsonObject;

export type FormValues = { ok: true; options: Record<string, Json> } | { ok: false; error: string };

export interface SchemaForm {
  readonly element: HTMLElement;
  /** The options to send: every field with a value; empty optional fields are left out. */
  values(): FormValues;
}

interface Field {
  element: HTMLElement;
  /** undefined: leave the option out. */
  read(): { value?: Json; error?: string };
}

const isObject = (value: unknown): value is Schema =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** A plugin's description with its `code` spans set as code, not shown with literal backticks. */
function withCode(text: string): Child[] {
  return text.split(/`([^`]+)`/).map((part, i) => (i % 2 === 1 ? h("code", null, part) : part));
}

/** `anyOf: [X, {type: "null"}]` (nullable/optional in zod) is rendered as X. */
function unwrap(schema: Schema): Schema {
  for (const key of ["anyOf", "oneOf"] as const) {
    const branches = schema[key];
    if (!Array.isArray(branches)) continue;
    const real = branches.filter((b): b is Schema => isObject(b) && b.type !== "null");
    if (real.length === 1 && real[0]) {
      const { [key]: _, ...rest } = schema;
      return { ...real[0], ...rest };
    }
  }
  return schema;
}

function typeOf(schema: Schema): string {
  if (Array.isArray(schema.enum)) return "enum";
  if (schema.const !== undefined) return "const";
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  return typeof type === "string" ? type : "json";
}

function fieldFor(key: string, raw: Schema, required: boolean, id: string): Field {
  const schema = unwrap(raw);
  const label = typeof schema.title === "string" ? schema.title : humanize(key);
  const help = typeof schema.description === "string" ? schema.description : undefined;
  const fallback = schema.default;
  const helpNode = (): Child => (help ? h("small", { class: "help", id: `${id}-help` }, withCode(help)) : null);
  const describedBy = help ? `${id}-help` : undefined;
  const wrap = (control: HTMLElement, inline = false) =>
    h(
      "div",
      { class: inline ? "field field-inline" : "field", "data-option": key },
      inline
        ? h("label", { for: id }, control, " ", label)
        : [
            h("label", { for: id }, label, required ? h("span", { class: "required", title: "required" }, " *") : null),
            control,
          ],
      h("code", { class: "option-key" }, key),
      helpNode(),
    );

  switch (typeOf(schema)) {
    case "boolean": {
      const input = h("input", {
        type: "checkbox",
        id,
        name: key,
        checked: fallback === true,
        "aria-describedby": describedBy,
      });
      return { element: wrap(input, true), read: () => ({ value: input.checked }) };
    }
    case "enum": {
      const choices = (schema.enum as Json[]).filter((v) => v === null || typeof v !== "object");
      const select = h(
        "select",
        { id, name: key, "aria-describedby": describedBy },
        required || fallback !== undefined ? null : h("option", { value: "" }, "(not set)"),
        choices.map((choice, i) => h("option", { value: String(i) }, String(choice))),
      );
      const index = choices.indexOf(fallback as (typeof choices)[number]);
      select.value = index >= 0 ? String(index) : required ? "0" : "";
      return {
        element: wrap(select),
        read: () => (select.value === "" ? {} : { value: choices[Number(select.value)] ?? null }),
      };
    }
    case "number":
    case "integer": {
      const integer = typeOf(schema) === "integer";
      const input = h("input", {
        type: "number",
        id,
        name: key,
        step: integer ? 1 : "any",
        min: typeof schema.minimum === "number" ? schema.minimum : undefined,
        max: typeof schema.maximum === "number" ? schema.maximum : undefined,
        value: typeof fallback === "number" ? fallback : undefined,
        required: required && fallback === undefined,
        "aria-describedby": describedBy,
      });
      return {
        element: wrap(input),
        read() {
          const text = input.value.trim();
          if (text === "") return required ? { error: `${label} is required` } : {};
          const value = Number(text);
          if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
            return { error: `${label}: expected ${integer ? "a whole number" : "a number"}` };
          }
          return { value };
        },
      };
    }
    case "string": {
      const input = h("input", {
        type: "text",
        id,
        name: key,
        value: typeof fallback === "string" ? fallback : undefined,
        minlength: typeof schema.minLength === "number" ? schema.minLength : undefined,
        maxlength: typeof schema.maxLength === "number" ? schema.maxLength : undefined,
        placeholder: typeof schema.format === "string" ? schema.format : undefined,
        required: required && fallback === undefined,
        "aria-describedby": describedBy,
      });
      return {
        element: wrap(input),
        read() {
          if (input.value === "" && fallback === undefined) return required ? { error: `${label} is required` } : {};
          return { value: input.value };
        },
      };
    }
    case "const": {
      const value = schema.const as Json;
      return { element: wrap(h("output", { id }, JSON.stringify(value))), read: () => ({ value }) };
    }
    default: {
      const area = h("textarea", {
        id,
        name: key,
        rows: 3,
        spellcheck: "false",
        placeholder: "JSON",
        "aria-describedby": describedBy,
      });
      area.value = fallback === undefined ? "" : JSON.stringify(fallback, null, 2);
      return {
        element: wrap(area),
        read() {
          if (area.value.trim() === "") return required ? { error: `${label} is required` } : {};
          try {
            return { value: JSON.parse(area.value) as Json };
          } catch {
            return { error: `${label}: not valid JSON` };
          }
        },
      };
    }
  }
}

export function schemaForm(schema: Schema | undefined, idPrefix: string): SchemaForm {
  const properties = isObject(schema?.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema?.required) ? schema.required.map(String) : []);
  const fields = Object.entries(properties)
    .filter((entry): entry is [string, Schema] => isObject(entry[1]))
    .map(([key, prop]) => [key, fieldFor(key, prop, required.has(key), `${idPrefix}-${key}`)] as const);
  const element = h(
    "div",
    { class: "schema-form" },
    fields.length === 0 ? h("p", { class: "muted" }, "This format has no options.") : fields.map(([, f]) => f.element),
  );
  return {
    element,
    values() {
      const options: Record<string, Json> = {};
      for (const [key, field] of fields) {
        const { value, error } = field.read();
        if (error) return { ok: false, error };
        if (value !== undefined) options[key] = value;
      }
      return { ok: true, options };
    },
  };
}
