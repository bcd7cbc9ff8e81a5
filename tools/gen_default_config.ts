/**
 * Regenerate `lib/default_config.ts` from `config.yaml` (run after editing `config.yaml`):
 *
 * ```
 * deno run -A tools/gen_default_config.ts && deno fmt lib/default_config.ts
 * ```
 *
 * `lib/config_test.ts` fails while the two differ.
 *
 * @module
 */

const root = new URL("..", import.meta.url);
const text = await Deno.readTextFile(new URL("config.yaml", root));
const lines = text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
const out = `/**
 * The embedded default configuration: the exact text of the repository's \`config.yaml\`, used when the
 * configuration file is absent so the bundled or compiled program runs anywhere. \`lib/config_test.ts\`
 * asserts the two are equal; after editing \`config.yaml\` run \`deno run -A tools/gen_default_config.ts\`.
 *
 * @module
 */

/** The text of \`config.yaml\` as shipped. */
export const defaultConfigText: string = [
${lines.map((l) => `  ${JSON.stringify(l)},`).join("\n")}
].join("\\n")${text.endsWith("\n") ? ' + "\\n"' : ""};

/** The name under which the embedded default appears in messages. */
export const defaultConfigSource = "<embedded default config.yaml>";
`;
await Deno.writeTextFile(new URL("lib/default_config.ts", root), out);
console.log(`lib/default_config.ts: ${lines.length} lines from config.yaml`);
