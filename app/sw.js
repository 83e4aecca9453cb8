// liaison's service worker: lets the app start with no network.
//
// `cargo xtask dist` fills in VERSION (a hash of the whole build) and PRECACHE (the build's
// files, content-hashed). Install caches exactly those files; activate deletes every other
// build's cache, so an old page never mixes with new files; navigations are answered with the
// cached page. Nothing else (the API, sync) is intercepted.
const VERSION = "{{version}}";
const PRECACHE = {{precache}};
const CACHE = "liaison-" + VERSION;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE)
      // The page bypasses the HTTP cache so the cache holds this build's page; every other file
      // is content-hashed, so a copy the page load just put in the HTTP cache is the right one
      // (fetching it again would download the whole wasm twice on a first visit).
      .then((cache) => cache.addAll(PRECACHE.map((url) => (url === "/" ? new Request(url, { cache: "reload" }) : url))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(
        keys.filter((key) => key.startsWith("liaison-") && key !== CACHE).map((key) => caches.delete(key)),
      ))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/") || url.pathname === "/sync") return;
  if (request.mode === "navigate") {
    event.respondWith(
      caches.open(CACHE)
        .then((cache) => cache.match("/"))
        .then((page) => page || fetch(request)),
    );
    return;
  }
  if (PRECACHE.includes(url.pathname)) {
    event.respondWith(
      caches.open(CACHE)
        .then((cache) => cache.match(url.pathname))
        .then((hit) => hit || fetch(request)),
    );
  }
});
