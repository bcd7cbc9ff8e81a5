/**
 * A small, strict parser for Python literal `repr` text, as tqsdk-python's 2020 debug logs print the
 * TqSim packets (`TqSim message received: {...}`): dicts, lists, tuples, `str` with every escape form
 * `repr` produces, `int`/`float` (exponents, `nan`, `inf`, `-inf`), `True`, `False`, `None`.
 *
 * Mapping to JavaScript: dict → plain object (keys `str`, or `int`/`float`/`bool`/`None` rendered with
 * Python's `str()`), list and tuple → array, `None` → `null`, `nan` → `NaN`, `inf` → `Infinity`. Python
 * integers beyond 2^53 lose precision like any JSON number would. Anything else (sets, bytes, calls,
 * names) is a {@link PythonLiteralError}. The text is never evaluated.
 *
 * @module
 */

/** A parsed Python literal. */
export type PyValue = null | boolean | number | string | PyValue[] | { [key: string]: PyValue };

/** Thrown for text that is not a Python literal; `offset` is where parsing stopped. */
export class PythonLiteralError extends SyntaxError {
  /** Offset (UTF-16 code units) in the input where the problem was found. */
  readonly offset: number;

  /** A parse failure at `offset`. */
  constructor(message: string, offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = "PythonLiteralError";
    this.offset = offset;
  }
}

/** Parse a whole string as one Python literal (surrounding whitespace allowed). */
export function parsePythonLiteral(text: string): PyValue {
  const { value, end } = parsePythonLiteralAt(text, 0);
  const after = skipSpace(text, end);
  if (after !== text.length) throw new PythonLiteralError("unexpected trailing text", after);
  return value;
}

/**
 * Parse one Python literal starting at `start` (leading whitespace allowed); returns the value and the
 * offset just after it, so callers can parse a literal embedded in a longer line.
 */
export function parsePythonLiteralAt(text: string, start: number): { value: PyValue; end: number } {
  const parser = new Parser(text);
  parser.pos = start;
  const value = parser.value(0);
  return { value, end: parser.pos };
}

const MAX_DEPTH = 200;

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function skipSpace(text: string, pos: number): number {
  while (pos < text.length && isSpace(text.charCodeAt(pos))) pos++;
  return pos;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isNameChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || isDigit(c) || c === 0x5f;
}

/** Python `str()` of a dict key that is not a string. */
function keyString(key: PyValue, offset: number): string {
  if (typeof key === "string") return key;
  if (key === null) return "None";
  if (key === true) return "True";
  if (key === false) return "False";
  if (typeof key === "number") {
    if (Number.isNaN(key)) return "nan";
    if (key === Infinity) return "inf";
    if (key === -Infinity) return "-inf";
    return String(key);
  }
  throw new PythonLiteralError("unsupported dict key type", offset);
}

function setKey(obj: { [key: string]: PyValue }, key: string, value: PyValue): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  n: "\n",
  r: "\r",
  t: "\t",
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
};

class Parser {
  pos = 0;
  readonly #text: string;

  constructor(text: string) {
    this.#text = text;
  }

  #fail(message: string, at = this.pos): never {
    throw new PythonLiteralError(message, at);
  }

  #skip(): void {
    this.pos = skipSpace(this.#text, this.pos);
  }

  value(depth: number): PyValue {
    if (depth > MAX_DEPTH) this.#fail("nesting too deep");
    this.#skip();
    const text = this.#text;
    if (this.pos >= text.length) this.#fail("unexpected end of input");
    const c = text.charCodeAt(this.pos);
    switch (c) {
      case 0x7b: // {
        return this.#dict(depth);
      case 0x5b: // [
        return this.#sequence(depth, 0x5d, false);
      case 0x28: // (
        return this.#sequence(depth, 0x29, true);
      case 0x27: // '
      case 0x22: // "
        return this.#string();
    }
    if (c === 0x2d || c === 0x2b || c === 0x2e || isDigit(c)) return this.#number();
    if (isNameChar(c)) return this.#name();
    return this.#fail(`unexpected character ${JSON.stringify(text[this.pos])}`);
  }

  #dict(depth: number): { [key: string]: PyValue } {
    const obj: { [key: string]: PyValue } = {};
    this.pos++; // {
    this.#skip();
    if (this.#text.charCodeAt(this.pos) === 0x7d) {
      this.pos++;
      return obj;
    }
    for (;;) {
      const keyAt = skipSpace(this.#text, this.pos);
      const key = this.value(depth + 1);
      if (Array.isArray(key) || (typeof key === "object" && key !== null)) {
        this.#fail("unhashable dict key", keyAt);
      }
      this.#skip();
      if (this.#text.charCodeAt(this.pos) !== 0x3a) this.#fail("expected ':'");
      this.pos++;
      setKey(obj, keyString(key, keyAt), this.value(depth + 1));
      this.#skip();
      const c = this.#text.charCodeAt(this.pos);
      if (c === 0x7d) {
        this.pos++;
        return obj;
      }
      if (c !== 0x2c) this.#fail("expected ',' or '}'");
      this.pos++;
      this.#skip();
      if (this.#text.charCodeAt(this.pos) === 0x7d) {
        this.pos++;
        return obj;
      }
    }
  }

  /** List (`[...]`) or tuple (`(...)`): a parenthesised single value without a comma is not a tuple. */
  #sequence(depth: number, close: number, tuple: boolean): PyValue {
    const items: PyValue[] = [];
    const openAt = this.pos;
    this.pos++;
    this.#skip();
    if (this.#text.charCodeAt(this.pos) === close) {
      this.pos++;
      return items;
    }
    let sawComma = false;
    for (;;) {
      items.push(this.value(depth + 1));
      this.#skip();
      const c = this.#text.charCodeAt(this.pos);
      if (c === close) {
        this.pos++;
        if (tuple && !sawComma) return items[0]; // "(x)" is just x in Python
        return items;
      }
      if (c !== 0x2c) this.#fail(`expected ',' or '${String.fromCharCode(close)}'`);
      sawComma = true;
      this.pos++;
      this.#skip();
      if (this.#text.charCodeAt(this.pos) === close) {
        this.pos++;
        return items;
      }
      if (this.pos >= this.#text.length) this.#fail("unterminated sequence", openAt);
    }
  }

  #string(): string {
    const text = this.#text;
    const quote = text.charCodeAt(this.pos);
    const openAt = this.pos;
    this.pos++;
    let out = "";
    let chunkStart = this.pos;
    for (;;) {
      if (this.pos >= text.length) this.#fail("unterminated string", openAt);
      const c = text.charCodeAt(this.pos);
      if (c === quote) {
        out += text.slice(chunkStart, this.pos);
        this.pos++;
        return out;
      }
      if (c === 0x0a || c === 0x0d) this.#fail("newline in string");
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += text.slice(chunkStart, this.pos);
      out += this.#escape();
      chunkStart = this.pos;
    }
  }

  /** One backslash escape; `pos` is at the backslash. */
  #escape(): string {
    const text = this.#text;
    const at = this.pos;
    const e = text[this.pos + 1];
    if (e === undefined) this.#fail("unterminated escape", at);
    this.pos += 2;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) return simple;
    if (e === "\n") return ""; // line continuation
    if (e === "x") return this.#hexEscape(2, at);
    if (e === "u") return this.#hexEscape(4, at);
    if (e === "U") return this.#hexEscape(8, at);
    if (e >= "0" && e <= "7") {
      let digits = e;
      while (digits.length < 3 && text[this.pos] >= "0" && text[this.pos] <= "7") digits += text[this.pos++];
      return String.fromCodePoint(parseInt(digits, 8));
    }
    // Python keeps unknown escapes verbatim (backslash included); repr never emits them.
    return "\\" + e;
  }

  #hexEscape(length: number, at: number): string {
    const hex = this.#text.slice(this.pos, this.pos + length);
    if (hex.length !== length || !/^[0-9a-fA-F]+$/.test(hex)) this.#fail("bad hex escape", at);
    const code = parseInt(hex, 16);
    if (code > 0x10ffff) this.#fail("escape beyond U+10FFFF", at);
    this.pos += length;
    return String.fromCodePoint(code);
  }

  #number(): number {
    const text = this.#text;
    const start = this.pos;
    let sign = 1;
    const first = text.charCodeAt(this.pos);
    if (first === 0x2d || first === 0x2b) {
      if (first === 0x2d) sign = -1;
      this.pos++;
      this.#skip();
    }
    const c = text.charCodeAt(this.pos);
    if (!isDigit(c) && c !== 0x2e) {
      const name = this.#word();
      if (name === "nan") return NaN;
      if (name === "inf") return sign * Infinity;
      this.#fail("bad number", start);
    }
    const digitsStart = this.pos;
    let digits = "";
    const readDigits = () => {
      const from = this.pos;
      while (this.pos < text.length) {
        const d = text.charCodeAt(this.pos);
        if (isDigit(d)) this.pos++;
        else if (d === 0x5f && isDigit(text.charCodeAt(this.pos + 1)) && this.pos > from) this.pos++;
        else break;
      }
      return text.slice(from, this.pos).replaceAll("_", "");
    };
    const intPart = readDigits();
    digits += intPart;
    let isFloat = false;
    if (text.charCodeAt(this.pos) === 0x2e) {
      isFloat = true;
      this.pos++;
      const frac = readDigits();
      if (intPart === "" && frac === "") this.#fail("bad number", start);
      digits += "." + frac;
    }
    const e = text.charCodeAt(this.pos);
    if (e === 0x65 || e === 0x45) {
      isFloat = true;
      this.pos++;
      let exp = "";
      const s = text.charCodeAt(this.pos);
      if (s === 0x2d || s === 0x2b) {
        exp += text[this.pos];
        this.pos++;
      }
      const expDigits = readDigits();
      if (expDigits === "") this.#fail("bad exponent", start);
      digits += "e" + exp + expDigits;
    }
    if (isNameChar(text.charCodeAt(this.pos))) this.#fail("bad number", start);
    if (!isFloat && intPart.length > 1 && intPart.startsWith("0") && /[1-9]/.test(intPart)) {
      this.#fail("leading zeros in integer", digitsStart);
    }
    return sign * Number(digits);
  }

  #word(): string {
    const start = this.pos;
    while (this.pos < this.#text.length && isNameChar(this.#text.charCodeAt(this.pos))) this.pos++;
    return this.#text.slice(start, this.pos);
  }

  #name(): PyValue {
    const start = this.pos;
    const word = this.#word();
    switch (word) {
      case "None":
        return null;
      case "True":
        return true;
      case "False":
        return false;
      case "nan":
        return NaN;
      case "inf":
        return Infinity;
    }
    return this.#fail(`unexpected name ${JSON.stringify(word)}`, start);
  }
}
