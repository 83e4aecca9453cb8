// The reference: automerge-repo's own sync server setup (Repo + NodeFS storage + WebSocket
// server adapter), on 127.0.0.1. Prints "listening PORT" when ready.
import { Repo } from "@automerge/automerge-repo";
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs";
import { WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket";
import { WebSocketServer } from "ws";

const dir = process.argv[2];
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
await new Promise((r) => wss.on("listening", r));
new Repo({
  network: [new WebSocketServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(dir),
  peerId: "js-sync-server",
  // As automerge-repo-sync-server does: serve what peers ask for, announce nothing.
  sharePolicy: async () => false,
});
// The adapter takes connections only once the repo has read its storage id, a moment after
// `new Repo`; a socket opened before that is never answered and is cut at the first keep-alive
// (5 s), so "listening" waits for the adapter.
while (wss.listenerCount("connection") === 0) await new Promise((r) => setTimeout(r, 5));
console.log(`listening ${wss.address().port}`);
