/**
 * Tolerant parsing of DIFF frames and RFC 7386 JSON merge patches, as the DIFF protocol applies them.
 *
 * Servers may send the bare tokens `NaN`, `Infinity` and `-Infinity` (not JSON). We never evaluate frame
 * text: it is parsed with `JSON.parse`, and only if that fails are those bare tokens (outside strings)
 * rewritten to `null` before a second `JSON.parse`.
 *
 * @module
 */

/** Keys that must never be merged into an object: they would change prototypes. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/**
 * Parse one frame of DIFF text. Bare `NaN`/`Infinity`/`-Infinity` tokens outside strings become `null`.
 * Throws `SyntaxError` for anything else that is not JSON.
 */
export function parseFrame(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    const rewritten = replaceBareNonFinite(text);
    if (rewritten === text) throw first;
    return JSON.parse(rewritten);
  }
}

function replaceBareNonFinite(text: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      out += ch;
      if (ch === "\\") {
        out += text[i + 1] ?? "";
        i++;
      } else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      out += ch;
      continue;
    }
    const rest = text.startsWith("-Infinity", i)
      ? "-Infinity"
      : text.startsWith("Infinity", i)
      ? "Infinity"
      : text.startsWith("NaN", i)
      ? "NaN"
      : "";
    if (rest) {
      out += "null";
      i += rest.length - 1;
      continue;
    }
    out += ch;
  }
  return out;
}

/** A plain JSON object (not an array, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Apply one JSON merge patch (RFC 7386) to `target` in place and return it: objects merge recursively,
 * scalars and arrays replace, `null` deletes. Keys such as `__proto__` are ignored. The result's objects
 * are created with a null prototype-free literal so no patch can reach `Object.prototype`.
 */
export function mergePatch(
  target: Record<string, unknown>,
  patch: Record<string, unknown>,
): Record<string, unknown> {
  for (const key of Object.keys(patch)) {
    if (FORBIDDEN_KEYS.has(key)) continue;
    const value = patch[key];
    if (value === null) {
      delete target[key];
    } else if (isPlainObject(value)) {
      const current = Object.hasOwn(target, key) ? target[key] : undefined;
      const base = isPlainObject(current) ? current : {};
      target[key] = mergePatch(base, value);
    } else {
      target[key] = value;
    }
  }
  return target;
}

/** Deep copy of a JSON value (structuredClone keeps it simple and fast for plain data). */
export function cloneJson<T>(value: T): T {
  return structuredClone(value);
}
