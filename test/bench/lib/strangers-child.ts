import net from "node:net";

// Strangers for the mesh listener benchmark, in their own process so that the listener's RSS is
// measured alone: node strangers-child.ts <port> <count>. Each stranger connects from its own
// loopback address (127.1.x.y), sends half an HTTP upgrade and holds the socket; when the
// listener cuts it (caps, deadline), it connects again after 50 ms. Prints "holding" once all
// have connected once. Loopback only.
const [port, count] = process.argv.slice(2).map(Number) as [number, number];
let connected = 0;
const addr = (i: number) => `127.1.${Math.floor(i / 250)}.${(i % 250) + 1}`;

function stranger(i: number): void {
  const s = net.connect({ port, host: "127.0.0.1", localAddress: addr(i) });
  s.on("connect", () => {
    if (++connected === count) process.stdout.write("holding\n");
    s.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`);
  });
  s.on("error", () => {});
  s.on("close", () => setTimeout(() => stranger(i), 50).unref());
}

for (let i = 0; i < count; i++) stranger(i);
setInterval(() => {}, 1 << 30);
