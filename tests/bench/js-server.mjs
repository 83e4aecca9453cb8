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
console.log(`listening ${wss.address().port}`);
