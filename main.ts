/**
 * Command line of tqsdk-broker-connect (contract §6):
 *
 * ```
 * main.ts [serve|check-config|migrate|sim|version] [--config PATH] [--help]
 * main.ts orders|positions|submit|cancel|kill-switch … [--url URL] [--token TOKEN] [--json]
 * ```
 * The second form is for ops: it calls the REST API of a running service (`lib/cli/commands.ts`).
 *
 * Parses the subcommand and `--config`, loads the configuration and hands over to `lib/app.ts`; nothing else.
 * Exit codes: 0 clean, 1 failure at start-up or a stop that failed, 2 bad usage or bad configuration.
 * Every error path prints its reason on stderr.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { runMigrate, runServe, runSim } from "./lib/app.ts";
import {
  type Config,
  ConfigError,
  defaultConfigPath,
  loadConfig,
  parseConfig,
  redactConfig,
} from "./lib/config.ts";
import { defaultConfigSource, defaultConfigText } from "./lib/default_config.ts";
import { setupLogging, shutdownLogging } from "./lib/log.ts";
import { NAME, versionLine } from "./lib/version.ts";
import { CLIENT_COMMANDS, CLIENT_USAGE, type ClientCommand, runClientCommand } from "./lib/cli/commands.ts";

/** Exit code for bad usage or a bad configuration. */
export const EXIT_USAGE = 2;

/** The subcommands, `serve` first (the default). */
export const SUBCOMMANDS = ["serve", "check-config", "migrate", "sim", "version"] as const;

/** One of {@link SUBCOMMANDS}. */
export type Subcommand = typeof SUBCOMMANDS[number];

/** The usage text printed by `--help` (stdout) and on bad usage (stderr). */
export const USAGE = `Usage: ${NAME} [SUBCOMMAND] [--config PATH] [--help]

Subcommands:
  serve          run the service (default)
  check-config   validate the configuration and print it with secrets redacted
  migrate        create or migrate the database tables, then exit
  sim            run only the local simulated DIFF exchange
  version        print the name and version

Options:
  --config PATH  configuration file (default ${defaultConfigPath}; when that file is absent the
                 built-in default is used: sim exchange, embedded database)
  -h, --help     show this help

${CLIENT_USAGE}

Exit codes: 0 clean shutdown, 1 failure, 2 bad usage or configuration.`;

/** Parsed command line. */
export interface CliArgs {
  /** The subcommand. */
  command: Subcommand;
  /** `--config` if given. */
  configPath?: string;
  /** `--help` was given. */
  help: boolean;
}

/** Parse the arguments; throws an Error with a one-line reason on bad usage. */
export function parseCli(args: string[]): CliArgs {
  const { values, positionals } = parseArgs({
    args,
    options: { config: { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length > 1) throw new Error(`unexpected argument: ${positionals[1]}`);
  const command = positionals[0] ?? "serve";
  if (!(SUBCOMMANDS as readonly string[]).includes(command)) {
    throw new Error(`unknown subcommand: ${command}`);
  }
  if (values.config === "") throw new Error("--config needs a path");
  return { command: command as Subcommand, configPath: values.config, help: values.help ?? false };
}

/**
 * Load the configuration: the file given with `--config` (it must exist), else `./config.yaml`, else the
 * built-in default text. Throws {@link ConfigError}.
 */
export async function resolveConfig(configPath: string | undefined): Promise<Config> {
  if (configPath !== undefined) return await loadConfig(configPath);
  try {
    await Deno.stat(defaultConfigPath);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw new ConfigError(defaultConfigPath, [String(e)]);
    console.error(
      `config: ${defaultConfigPath} not found, using the built-in default (sim, embedded database)`,
    );
    return parseConfig(defaultConfigText, defaultConfigSource);
  }
  return await loadConfig(defaultConfigPath);
}

/** The configuration for the ops subcommands: `--config`, else ./config.yaml, else the built-in default (quietly). */
async function clientConfig(path: string | undefined): Promise<Config> {
  try {
    if (path === undefined) await Deno.stat(defaultConfigPath);
    return await loadConfig(path ?? defaultConfigPath);
  } catch (e) {
    if (path === undefined && e instanceof Deno.errors.NotFound) {
      return parseConfig(defaultConfigText, defaultConfigSource);
    }
    if (e instanceof ConfigError) throw new Error(`${e.source}: ${e.problems.join("; ")}`);
    throw e;
  }
}

/** Run the command line; resolves with the process exit code. */
export async function main(args: string[]): Promise<number> {
  if ((CLIENT_COMMANDS as readonly string[]).includes(args[0])) {
    if (args.includes("--help") || args.includes("-h")) {
      console.log(USAGE);
      return 0;
    }
    return await runClientCommand(args[0] as ClientCommand, args.slice(1), { loadConfig: clientConfig });
  }
  let cli: CliArgs;
  try {
    cli = parseCli(args);
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  if (cli.help) {
    console.log(USAGE);
    return 0;
  }
  if (cli.command === "version") {
    console.log(versionLine());
    return 0;
  }

  let config: Config;
  try {
    config = await resolveConfig(cli.configPath);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`config error (${e.source}):`);
      for (const line of e.problems) console.error(`  ${line}`);
      return EXIT_USAGE;
    }
    throw e;
  }

  if (cli.command === "check-config") {
    console.log(stringify(redactConfig(config), { lineWidth: 0 }).trimEnd());
    return 0;
  }

  try {
    await setupLogging(config.log);
    switch (cli.command) {
      case "serve":
        return await runServe(config);
      case "sim":
        return await runSim(config);
      case "migrate":
        return await runMigrate(config);
    }
  } catch (e) {
    console.error(`${cli.command} failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    return 1;
  } finally {
    await shutdownLogging();
  }
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    code = 1;
  }
  Deno.exit(code);
}
