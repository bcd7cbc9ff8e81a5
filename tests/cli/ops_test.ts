/**
 * The ops subcommands as a user runs them (`deno run main.ts submit …`) against a running service with
 * a token: submit, orders, positions, cancel, kill-switch; refusals and bad usage.
 */
import { assertEquals, assertMatch } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import { eventually, setBook, startTestService, testConfig, testNames } from "../helpers/service.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const TOKEN = "cli-" + crypto.randomUUID();

async function cli(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", `${ROOT}deno.json`, `${ROOT}main.ts`, ...args],
    cwd: "/tmp",
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("cli ops: submit, orders, positions, cancel and kill-switch against a running service", async () => {
  const names = testNames("cliops");
  await withTestDatabase(async (db) => {
    const config = testConfig(names, db, { rabbitmq: false, redis: false });
    config.http.token = TOKEN;
    const service = await startTestService(config);
    try {
      await eventually("broker ready", () => service.broker?.state().ready);
      await setBook(service);
      const url = service.http!.url;
      const common = ["--url", url, "--portfolio", names.portfolio];
      // the token from the environment, as ops would export it
      const env = { BROKER_CONNECT_TOKEN: TOKEN };

      const fill = await cli(
        [
          "submit",
          ...common,
          "--symbol",
          "SHFE.rb2605",
          "--direction",
          "buy",
          "--offset",
          "OPEN",
          "--volume",
          "2",
          "--price",
          "3501",
          "--order-id",
          "c-1",
        ],
        env,
      );
      assertEquals(fill.code, 0, fill.stderr);
      assertEquals(fill.stdout, "c-1 SUBMITTED\n");
      const rest = await cli(
        [
          "submit",
          ...common,
          "--symbol",
          "SHFE.rb2605",
          "--direction",
          "BUY",
          "--offset",
          "OPEN",
          "--volume",
          "1",
          "--price",
          "3400",
          "--order-id",
          "c-2",
        ],
        env,
      );
      assertEquals(rest.code, 0, rest.stderr);

      await eventually(
        "c-1 filled",
        async () => (await cli(["orders", "c-1", "--url", url], env)).stdout.includes("FILLED"),
      );
      const one = await cli(["orders", "c-1", "--url", url], env);
      assertMatch(one.stdout, /^order_id +status +symbol/);
      assertMatch(one.stdout, /c-1 +FILLED +SHFE\.rb2605 +BUY OPEN +2 +2 +3501 +3501/);
      assertMatch(one.stdout, /#1 RECEIVED/);
      assertMatch(one.stdout, /fill 2 @ 3501/);

      const list = await cli(["orders", "--url", url, "--status", "ACCEPTED"], env);
      assertEquals(list.code, 0, list.stderr);
      assertEquals(list.stdout.trim().split("\n").length, 2); // header + c-2
      assertMatch(list.stdout, /c-2 +ACCEPTED/);

      const positions = await cli(["positions", "--url", url, "--json"], env);
      assertEquals(positions.code, 0, positions.stderr);
      const rb = (JSON.parse(positions.stdout) as { symbol: string; net: number }[]).find((p) =>
        p.symbol === "SHFE.rb2605"
      );
      assertEquals(rb?.net, 2);
      const posTable = await cli(["positions", "--url", url], env);
      assertMatch(posTable.stdout, /SHFE\.rb2605 +2 +2 +0/);

      const cancel = await cli(["cancel", "c-2", "--url", url], env);
      assertEquals([cancel.code, cancel.stdout], [0, "c-2 ACCEPTED (cancel sent)\n"], cancel.stderr);
      const again = await cli(["cancel", "c-1", "--url", url], env);
      assertEquals(again.code, 1);
      assertMatch(again.stderr, /409: order c-1 is already FILLED/);

      const halt = await cli(["kill-switch", "HALT", "--reason", "cli test", "--url", url], env);
      assertEquals([halt.code, halt.stdout], [0, "kill switch HALT: cli test\n"], halt.stderr);
      assertEquals(service.killSwitch?.state.portfolio().mode, "HALT");
      const show = await cli(["kill-switch", "--url", url], env);
      assertMatch(show.stdout, /^portfolio: HALT \(cli test, by cli:/);
      const off = await cli(["kill-switch", "off", "--reason", "done", "--url", url, "--token", TOKEN]);
      assertEquals(off.code, 0, off.stderr);
      assertEquals(service.killSwitch?.state.portfolio().mode, "OFF");

      // refusals: a wrong token, no token
      const wrong = await cli(["orders", "--url", url, "--token", "nope"]);
      assertEquals(wrong.code, 1);
      assertMatch(wrong.stderr, /401: the bearer token is not valid/);
      const none = await cli(["positions", "--url", url]);
      assertEquals(none.code, 1);
      assertMatch(none.stderr, /401/);
    } finally {
      await service.lifecycle.stop();
    }
  });
});

Deno.test("cli ops: bad usage exits 2, an unreachable service exits 1", async () => {
  const usage = await cli(["submit", "--url", "http://127.0.0.1:9", "--symbol", "SHFE.rb2605"]);
  assertEquals(usage.code, 2);
  assertMatch(usage.stderr, /--direction is required/);
  const flag = await cli(["orders", "--bogus"]);
  assertEquals(flag.code, 2);
  const down = await cli(["orders", "--url", "http://127.0.0.1:9"]);
  assertEquals(down.code, 1);
  assertMatch(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:9/);
  const help = await cli(["orders", "--help"]);
  assertEquals(help.code, 0);
  assertMatch(help.stdout, /kill-switch \[OFF\|HALT/);
});
