/**
 * The bundle smoke test: `deno bundle` main.ts into one .js file, copy only that file into an empty folder
 * and run it there with `deno run -A`. Proves the program carries everything it needs (no file read relative
 * to the source, the default config embedded, npm packages inlined).
 *
 * The embedded PostgreSQL (PGlite) does not survive bundling (stack-notes.md): keep it out of this test.
 */
import { assert, assertEquals, assertMatch } from "./assert.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function run(args: string[], cwd: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("bundle: one .js file runs alone in an empty folder", async () => {
  const build = await Deno.makeTempDir({ prefix: "tbc_bundle_build_" });
  const empty = await Deno.makeTempDir({ prefix: "tbc_bundle_run_" });
  try {
    const bundled = `${build}/tqsdk-broker-connect.js`;
    const b = await run(["bundle", "--platform", "deno", "-o", bundled, "main.ts"], ROOT);
    assertEquals(b.code, 0, `deno bundle failed:\n${b.stderr}`);
    const js = `${empty}/tqsdk-broker-connect.js`;
    await Deno.copyFile(bundled, js);
    assertEquals([...Deno.readDirSync(empty)].map((e) => e.name), ["tqsdk-broker-connect.js"]);

    const v = await run(["run", "-A", js, "version"], empty);
    assertEquals(v.code, 0, v.stderr);
    assertMatch(v.stdout, /^tqsdk-broker-connect \d+\.\d+\.\d+\n$/);

    const secret = "bundle-secret-" + crypto.randomUUID();
    const c = await run(["run", "-A", js, "check-config"], empty, { TQ_PASSWORD: secret });
    assertEquals(c.code, 0, c.stderr);
    assert(c.stderr.includes("using the built-in default"), c.stderr);
    assertMatch(c.stdout, /run_mode: sim/);
    assertMatch(c.stdout, /password: "\*\*\*"/);
    assert(!c.stdout.includes(secret) && !c.stderr.includes(secret), "secret leaked");

    await simAnswersLogin(js, empty, build);
  } finally {
    await Deno.remove(build, { recursive: true });
    await Deno.remove(empty, { recursive: true });
  }
});

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Run the bundle's `sim` subcommand, log in over the trade WebSocket, then stop it with SIGTERM. */
async function simAnswersLogin(js: string, cwd: string, configDir: string): Promise<void> {
  const port = freePort();
  const configPath = `${configDir}/config.yaml`;
  await Deno.writeTextFile(
    configPath,
    `sim:\n  port: ${port}\n  tick_ms: 0\n  accounts: [{user: alice, password: s3cret, balance: 1000000}]\n` +
      `log:\n  file: ${configDir}/sim.log\n`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", js, "sim", "--config", configPath],
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let logged = "";
  try {
    while (!logged.includes("listening on")) {
      const { value, done } = await stderr.read();
      if (done) throw new Error(`sim exited before listening:\n${logged}`);
      logged += value;
    }
    const frames: Record<string, unknown>[] = [];
    const ws = new WebSocket(`ws://127.0.0.1:${port}/trade`);
    const loggedIn = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no login answer: ${JSON.stringify(frames)}`)), 5000);
      ws.onmessage = (ev) => {
        const frame = JSON.parse(ev.data);
        frames.push(frame);
        if (frame.aid === "rtn_brokers") {
          ws.send(JSON.stringify({ aid: "req_login", bid: "sim", user_name: "alice", password: "s3cret" }));
        }
        if (JSON.stringify(frame).includes('"trading_day"') && frame.data?.[0]?.trade?.alice?.session) {
          clearTimeout(timer);
          resolve();
        }
      };
    });
    await loggedIn;
    const notify = frames.find((f) => JSON.stringify(f).includes("登录成功"));
    assert(notify, "login notify 401 missing");
    const closed = new Promise((r) => ws.onclose = r);
    ws.close();
    await closed;
  } finally {
    child.kill("SIGTERM");
    const status = await child.status;
    const rest = await stderr.read().catch(() => ({ value: "" }));
    await stderr.cancel().catch(() => {});
    assertEquals(status.code, 0, `sim did not stop cleanly: ${logged}${rest.value ?? ""}`);
  }
}
