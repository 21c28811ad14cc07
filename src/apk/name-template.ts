/**
 * Output names from a template such as `{package}-{versionName}-{channel}.apk`.
 * Field values come from the manifest and may hold anything (a label with a
 * colon, a versionName with a slash), so they are made file-name safe; the
 * template itself must name a file, not a path.
 */
import { GamedockError } from "../core/index.js";

export const TEMPLATE_FIELDS = [
  "package",
  "versionName",
  "versionCode",
  "label",
  "channel",
  "mother",
] as const;
export type TemplateField = (typeof TEMPLATE_FIELDS)[number];
export type TemplateValues = Record<TemplateField, string>;

export const DEFAULT_NAME_TEMPLATE = "{package}-{versionName}-{channel}.apk";

const UNSAFE = /[/\\:*?"<>|\p{Cc}]/gu;

function isField(name: string): name is TemplateField {
  return (TEMPLATE_FIELDS as readonly string[]).includes(name);
}

/** Checks a template once, before any name is generated. */
export function validateTemplate(template: string): void {
  if (/[/\\]/.test(template)) {
    throw new GamedockError(
      "E_OUTPUT_NAME",
      `name template ${JSON.stringify(template)} contains a path separator; use -o to choose the directory`,
    );
  }
  const withoutFields = template.replace(/\{([^{}]*)\}/g, (_, name: string) => {
    if (!isField(name)) {
      throw new GamedockError(
        "E_TEMPLATE_FIELD",
        `unknown field {${name}} in name template ${JSON.stringify(template)}; known fields: ${TEMPLATE_FIELDS.map((f) => `{${f}}`).join(" ")}`,
        { field: name },
      );
    }
    return "";
  });
  if (/[{}]/.test(withoutFields)) {
    throw new GamedockError(
      "E_TEMPLATE_FIELD",
      `name template ${JSON.stringify(template)} has an unmatched { or }`,
    );
  }
}

export function renderName(template: string, values: TemplateValues): string {
  const name = template.replace(/\{([^{}]*)\}/g, (_, field: string) =>
    isField(field) ? values[field].replace(UNSAFE, "_") : "",
  );
  const bytes = Buffer.byteLength(name);
  if (bytes > 255) {
    throw new GamedockError(
      "E_OUTPUT_NAME",
      `the output name for channel ${JSON.stringify(values.channel)} is ${bytes} bytes, over the 255-byte file name limit; shorten --name or the channel id`,
      { channel: values.channel },
    );
  }
  if (name === "" || name === "." || name === "..") {
    throw new GamedockError(
      "E_OUTPUT_NAME",
      `name template ${JSON.stringify(template)} gives ${JSON.stringify(name)} for channel ${JSON.stringify(values.channel)}, which is not a usable file name`,
      { channel: values.channel },
    );
  }
  return name;
}
