/**
 * Private Redis, PostgreSQL and RabbitMQ servers for the fault scenarios that restart a server: each on
 * free ports with its data in a temp dir, started and stopped by the test. The machine's shared servers
 * (5432, 6379, 5672) are never stopped or restarted.
 *
 * - Redis: `redis-server --port P --save "" --appendonly no` (a restart loses everything, as a cache may).
 * - PostgreSQL: `initdb` + `pg_ctl` run as the `postgres` OS user (they refuse root) on a temp cluster.
 * - RabbitMQ: a second node `tbc_<rand>@localhost` with its own config file (the machine's
 *   `/etc/rabbitmq/rabbitmq.conf` pins the listener to 5672), no plugins, data in a temp dir owned by the
 *   `rabbitmq` user (the `rabbitmq-server` wrapper drops to it). A restart stops the whole node and starts
 *   it again on the same data (durable queues and persistent messages survive).
 *
 * @module
 */

/** A free TCP port on loopback (closed again before returning). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function run(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string> } = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, { args, env: options.env, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}): ${text.slice(-2000)}`);
  return text;
}

async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function portOpen(port: number): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.close();
    return true;
  } catch {
    return false;
  }
}

/** A private `redis-server`. */
export class PrivateRedis {
  readonly port = freePort();
  #child: Deno.ChildProcess | null = null;

  /** Start (or start again after {@link stop}) and wait until it accepts connections. */
  async start(): Promise<void> {
    this.#child = new Deno.Command("redis-server", {
      args: ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitFor(`redis on ${this.port}`, () => portOpen(this.port), 10_000);
  }

  /** Kill it (SIGKILL: nothing is saved) and wait for the exit. */
  async stop(): Promise<void> {
    if (!this.#child) return;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.#child.status;
    this.#child = null;
  }
}

/** A private PostgreSQL cluster. */
export class PrivatePostgres {
  readonly port = freePort();
  #dir = "";

  /** `initdb` a temp cluster and start it. */
  async start(): Promise<void> {
    this.#dir = await Deno.makeTempDir({ prefix: "tbc_fault_pg_" });
    await run("chown", ["postgres", this.#dir]);
    await run("runuser", [
      "-u",
      "postgres",
      "--",
      "initdb",
      "-D",
      `${this.#dir}/data`,
      "-U",
      "postgres",
      "--auth=trust",
      "-N",
    ]);
    await this.#ctl("start");
  }

  /** `pg_ctl restart -m fast`: every session is terminated, the server is back when it returns. */
  async restart(): Promise<void> {
    await this.#ctl("restart", ["-m", "fast"]);
  }

  /** Stop it (immediate) and remove its files. */
  async destroy(): Promise<void> {
    if (!this.#dir) return;
    await run("runuser", [
      "-u",
      "postgres",
      "--",
      "pg_ctl",
      "-D",
      `${this.#dir}/data`,
      "stop",
      "-m",
      "immediate",
      "-w",
    ]).catch(() => "");
    // the last backends may still be writing for a moment after the postmaster is gone
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        await Deno.remove(this.#dir, { recursive: true });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    this.#dir = "";
  }

  async #ctl(action: string, extra: string[] = []): Promise<void> {
    await run("runuser", [
      "-u",
      "postgres",
      "--",
      "pg_ctl",
      "-D",
      `${this.#dir}/data`,
      "-o",
      `-p ${this.port} -k ${this.#dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      "-l",
      `${this.#dir}/log`,
      ...extra,
      action,
      "-w",
    ]);
  }
}

/** A private RabbitMQ node. */
export class PrivateRabbit {
  readonly port = freePort();
  readonly node = `tbc_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}@localhost`;
  #dir = "";
  #child: Deno.ChildProcess | null = null;

  /** `amqp://guest:guest@127.0.0.1:<port>/` */
  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}/`;
  }

  /** Start the node (first time: a fresh data dir) and wait until its AMQP port answers. */
  async start(): Promise<void> {
    if (!this.#dir) {
      this.#dir = await Deno.makeTempDir({ prefix: "tbc_fault_rmq_" });
      await Deno.writeTextFile(`${this.#dir}/enabled_plugins`, "[].\n");
      await Deno.writeTextFile(
        `${this.#dir}/rabbitmq.conf`,
        `listeners.tcp.local = 127.0.0.1:${this.port}\n`,
      );
      await run("chown", ["-R", "rabbitmq:rabbitmq", this.#dir]);
    }
    // the distribution port must be free too; P + 20000 as the brief says, or a free one if that is taken
    const dist = this.port + 20000 < 65536 && await portOpen(this.port + 20000) === false
      ? this.port + 20000
      : freePort();
    this.#child = new Deno.Command("rabbitmq-server", {
      cwd: this.#dir,
      env: {
        RABBITMQ_NODENAME: this.node,
        RABBITMQ_NODE_PORT: String(this.port),
        RABBITMQ_DIST_PORT: String(dist),
        RABBITMQ_CONFIG_FILE: `${this.#dir}/rabbitmq.conf`,
        RABBITMQ_MNESIA_BASE: this.#dir,
        RABBITMQ_LOG_BASE: this.#dir,
        RABBITMQ_ENABLED_PLUGINS_FILE: `${this.#dir}/enabled_plugins`,
      },
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitFor(`rabbitmq node ${this.node}`, async () => {
      if (!(await portOpen(this.port))) return false;
      await run("rabbitmq-diagnostics", ["-n", this.node, "-q", "check_port_connectivity"]);
      return true;
    }, 60_000);
  }

  /** Stop the whole node (`rabbitmqctl stop`) and wait for the process to exit. */
  async stop(): Promise<void> {
    await run("rabbitmqctl", ["-n", this.node, "stop"]).catch(() => "");
    if (this.#child) {
      const timer = setTimeout(() => {
        try {
          this.#child?.kill("SIGKILL");
        } catch {
          // gone
        }
      }, 15_000);
      await this.#child.status;
      clearTimeout(timer);
      this.#child = null;
    }
  }

  /** Stop the node and remove its files. */
  async destroy(): Promise<void> {
    await this.stop();
    if (this.#dir) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    this.#dir = "";
  }
}
