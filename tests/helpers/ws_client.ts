/**
 * A small WebSocket test client: collects messages and lets a test await the next one.
 *
 * @module
 */

/** A connected client. */
export interface TestWsClient {
  socket: WebSocket;
  /** Next message parsed as JSON (rejects after `timeoutMs`, default 3000). */
  next<T = unknown>(timeoutMs?: number): Promise<T>;
  /** Resolves with the close event. */
  closed: Promise<CloseEvent>;
  /** Close and wait for the close to complete. */
  close(): Promise<void>;
}

/** Open `url` and wait until connected. */
export async function openWs(url: string): Promise<TestWsClient> {
  const socket = new WebSocket(url);
  const buffer: string[] = [];
  const waiters: ((data: string) => void)[] = [];
  socket.onmessage = (e) => {
    const w = waiters.shift();
    if (w) w(String(e.data));
    else buffer.push(String(e.data));
  };
  const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", (e) => resolve(e)));
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error(`cannot connect to ${url}`));
  });
  return {
    socket,
    closed,
    next<T>(timeoutMs = 3000): Promise<T> {
      const ready = buffer.shift();
      if (ready !== undefined) return Promise.resolve(JSON.parse(ready));
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error("no WebSocket message in time"));
        }, timeoutMs);
        const w = (data: string) => {
          clearTimeout(timer);
          resolve(JSON.parse(data));
        };
        waiters.push(w);
      });
    },
    async close() {
      if (socket.readyState !== WebSocket.CLOSED) socket.close(1000, "bye");
      await closed;
    },
  };
}
