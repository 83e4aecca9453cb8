// Real automerge-repo 2.x clients (the npm packages, in Node) against our server: documents
// made by one JS client reach another through us, and access control holds for them too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Repo } from "@automerge/automerge-repo";
import { BrowserWebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";
import { cleanup, DEMO, login, startServer } from "./harness.mjs";

function repo(url, token, peerId) {
  const ws = url.replace("http://", "ws://") + `/sync?token=${token}`;
  return new Repo({ network: [new BrowserWebSocketClientAdapter(ws, 200)], peerId, sharePolicy: async () => true });
}

async function until(check, what, ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("automerge-repo clients sync through our server, within access control", async () => {
  const server = await startServer();
  const repos = [];
  try {
    const fedToken = await login(server.url, DEMO.federation);
    const procToken = await login(server.url, DEMO.procuratorate);

    const writer = repo(server.url, fedToken, "js-writer");
    repos.push(writer);
    const handles = [];
    for (let i = 0; i < 20; i++) {
      const h = writer.create({ title: `案件 ${i}`, items: [i] });
      h.change((d) => { d.items.push(i * 10); });
      handles.push(h);
    }
    // The feed shows them once the server has stored them.
    await until(async () => {
      const feed = await (await fetch(`${server.url}/api/docs?since=0`, { headers: { authorization: `Bearer ${fedToken}` } })).json();
      return feed.docs.length === 20;
    }, "the server to store 20 documents");

    const reader = repo(server.url, fedToken, "js-reader");
    repos.push(reader);
    for (const [i, h] of handles.entries()) {
      const found = await reader.find(h.url);
      await found.whenReady();
      assert.deepEqual(found.doc(), { title: `案件 ${i}`, items: [i, i * 10] });
    }

    // The procuratorate's client cannot find the federation's document…
    const outsider = repo(server.url, procToken, "js-outsider");
    repos.push(outsider);
    await assert.rejects(outsider.find(handles[0].url), /unavailable/i);

    // …until it is shared; then a fresh client finds it and its edits come back.
    const share = await fetch(`${server.url}/api/docs/${handles[0].documentId}/share`, {
      method: "POST",
      headers: { authorization: `Bearer ${fedToken}`, "content-type": "application/json" },
      body: JSON.stringify({ org: DEMO.procuratorate.org }),
    });
    assert.equal(share.status, 200);
    const colleague = repo(server.url, procToken, "js-colleague");
    repos.push(colleague);
    const shared = await colleague.find(handles[0].url);
    await shared.whenReady();
    shared.change((d) => { d.reviewed = true; });
    const back = await reader.find(handles[0].url);
    await until(() => back.doc().reviewed === true, "the procuratorate's edit to reach the federation");
  } finally {
    for (const r of repos) await r.shutdown().catch(() => {});
    await server.stop();
    cleanup(server.dataDir);
  }
});
