/**
 * The application: builds the components from the configuration and owns their start/stop order.
 * `main.ts` calls one `run*` function per subcommand and exits with the code it returns.
 *
 * @module
 */
import type { Config, SimConfig } from "./config.ts";
import { type Component, Lifecycle, runUntilSignal } from "./lifecycle.ts";
import { getLogger } from "./log.ts";
import { type Sim, startSim } from "./sim/mod.ts";
import { closeDatabase, connectDatabase, describeDatabase } from "./store/pg/connect.ts";
import { migrate } from "./store/pg/migrate.ts";
import { buildService } from "./service.ts";

/** The sim exchange as a lifecycle component; `sim()` is set once started. */
export function simComponent(config: SimConfig): Component & { sim(): Sim } {
  const log = getLogger("sim");
  let sim: Sim | undefined;
  return {
    name: "sim",
    async start() {
      sim = await startSim({
        host: config.host,
        port: config.port,
        clock: config.clock,
        seed: config.seed,
        tickMs: config.tick_ms,
        accounts: config.accounts,
        onLog: (level, message, props) => {
          if (level === "warning") log.warn(message, props ?? {});
          else log.info(message, props ?? {});
        },
      });
      log.info("sim exchange listening on {url} (brokers: 快期模拟, sim; trade {trade}; md {md})", {
        url: sim.baseUrl,
        trade: sim.tradeUrl,
        md: sim.mdUrl,
      });
    },
    async stop() {
      await sim?.close();
      sim = undefined;
    },
    sim() {
      if (!sim) throw new Error("sim not started");
      return sim;
    },
  };
}

/** `main.ts sim`: run only the local DIFF exchange until SIGINT/SIGTERM; resolves with the exit code. */
export async function runSim(config: Config): Promise<number> {
  const lifecycle = new Lifecycle();
  lifecycle.add(simComponent(config.sim));
  return await runUntilSignal(lifecycle);
}

/** `main.ts serve`: run the whole service until SIGINT/SIGTERM; resolves with the exit code. */
export async function runServe(config: Config): Promise<number> {
  const service = buildService(config);
  return await runUntilSignal(service.lifecycle);
}

/** `main.ts migrate`: create or migrate the database tables, then exit; resolves with the exit code. */
export async function runMigrate(config: Config): Promise<number> {
  const log = getLogger("migrate");
  const schema = config.database.schema;
  log.info("migrating {database}", { database: describeDatabase(config.database, { schema }) });
  const sql = await connectDatabase(config.database, { schema });
  try {
    const applied = await migrate(sql, { schema });
    log.info(
      applied.length > 0 ? "applied migrations {versions}" : "schema is up to date",
      { versions: applied.join(", ") },
    );
    return 0;
  } finally {
    await closeDatabase(sql);
  }
}
