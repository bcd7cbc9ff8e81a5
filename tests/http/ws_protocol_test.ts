/**
 * `/ws` authentication by subprotocol on a running service: whatever order the client lists its
 * subprotocols in, the server selects `tbc.bearer` and never a `tbc.token.…` one, so the token is not in
 * the response headers; and the token sent that way never reaches a log sink (every record at debug level,
 * formatted as text and as JSON, is searched).
 */
import type { LogRecord } from "@logtape/logtape";
import { assert, assertEquals } from "../assert.ts";
import { withTestDatabase } from "../helpers/pg.ts";
import { eventually, startTestService, testConfig, testNames } from "../helpers/service.ts";
import { WS_TOKEN_PROTOCOL_PREFIX, wsTokenProtocols } from "../../lib/http/auth.ts";
import { formatJsonLine, formatTextLine, setupLogging, shutdownLogging } from "../../lib/log.ts";

const TOKEN = "ws-secret-" + crypto.randomUUID();

/** A raw WebSocket handshake offering `protocols` in that order: the status line and the headers. */
async function handshake(
  url: string,
  protocols: string[] | null,
): Promise<{ status: number; head: string; headers: Map<string, string> }> {
  const u = new URL(url);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  try {
    const lines = [
      `GET /ws HTTP/1.1`,
      `Host: ${u.host}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Version: 13",
      ...(protocols ? [`Sec-WebSocket-Protocol: ${protocols.join(", ")}`] : []),
    ];
    await conn.write(new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n"));
    let text = "";
    const buf = new Uint8Array(4096);
    const decoder = new TextDecoder();
    while (!text.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n), { stream: true });
    }
    const head = text.slice(0, text.indexOf("\r\n\r\n"));
    const [statusLine, ...rest] = head.split("\r\n");
    const headers = new Map<string, string>();
    for (const line of rest) {
      const i = line.indexOf(":");
      headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
    }
    return { status: Number(statusLine.split(" ")[1]), head, headers };
  } finally {
    conn.close();
  }
}

Deno.test("ws auth: the server selects tbc.bearer, never the token protocol; the token is never logged", async () => {
  const names = testNames("wsproto");
  const dir = await Deno.makeTempDir({ prefix: "tbc_wslog_" });
  const records: LogRecord[] = [];
  await setupLogging({ file: `${dir}/app.log`, level: "debug", format: "text" }, {
    console: false,
    sinks: [(r) => records.push(r)],
  });
  try {
    await withTestDatabase(async (db) => {
      const config = testConfig(names, db, { rabbitmq: false, redis: false });
      config.http.token = TOKEN;
      const service = await startTestService(config);
      try {
        await eventually("broker ready", () => service.broker?.state().ready);
        const [bearer, tokenProtocol] = wsTokenProtocols(TOKEN);
        assert(tokenProtocol.startsWith(WS_TOKEN_PROTOCOL_PREFIX));
        const encoded = tokenProtocol.slice(WS_TOKEN_PROTOCOL_PREFIX.length);

        // the token protocol first (Hono's helper would echo it), then the usual order
        for (const offered of [[tokenProtocol, bearer], [bearer, tokenProtocol]]) {
          const r = await handshake(service.http!.url, offered);
          assertEquals(r.status, 101, r.head);
          assertEquals(r.headers.get("sec-websocket-protocol"), "tbc.bearer", r.head);
          assert(!r.head.includes(encoded) && !r.head.includes(TOKEN), r.head);
        }
        // the token protocol alone: authenticated, and no subprotocol selected (none echoed)
        const alone = await handshake(service.http!.url, [tokenProtocol]);
        assertEquals(alone.status, 101, alone.head);
        assertEquals(alone.headers.get("sec-websocket-protocol"), undefined, alone.head);
        assert(!alone.head.includes(encoded), alone.head);
        // a wrong token is refused, and not echoed either
        const wrong = await handshake(service.http!.url, wsTokenProtocols("not-the-token").reverse());
        assertEquals(wrong.status, 401, wrong.head);
        assert(!wrong.head.includes(WS_TOKEN_PROTOCOL_PREFIX), wrong.head);

        // a real client listing the token first gets tbc.bearer and the snapshot
        const ws = new WebSocket(service.http!.url.replace("http:", "ws:") + "/ws", [tokenProtocol, bearer]);
        const first = await new Promise<string>((resolve, reject) => {
          ws.onmessage = (ev) => resolve(String(ev.data));
          ws.onerror = () => reject(new Error("ws refused"));
        });
        assertEquals(ws.protocol, "tbc.bearer");
        assertEquals(JSON.parse(first).type, "snapshot");
        const closed = new Promise((r) => ws.onclose = r);
        ws.close();
        await closed;
      } finally {
        await service.lifecycle.stop();
      }
    });
  } finally {
    await shutdownLogging();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  // the access log saw the upgrades (so the search below looked at the right lines)
  const lines = records.map((r) => formatTextLine(r) + formatJsonLine(r));
  assert(lines.some((l) => l.includes("GET /ws 101")), "no access-log line of the upgrade");
  assert(lines.some((l) => l.includes("GET /ws 401")), "no access-log line of the refusal");
  const encoded = wsTokenProtocols(TOKEN)[1].slice(WS_TOKEN_PROTOCOL_PREFIX.length);
  const leaked = lines.filter((l) => l.includes(TOKEN) || l.includes(encoded));
  assertEquals(leaked, []);
});
