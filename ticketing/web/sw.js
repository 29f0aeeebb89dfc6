// The app shell, kept so the app opens with no network (three of Line 1's stations are underground). The
// tickets themselves live in the page's localStorage (wallet.js); the API is never cached here: an answer
// carrying an access token must not sit in a cache.
//
// One cache per release: the service puts a hash of the shell's files in VERSION, so a release changes this
// file, the browser installs the new worker, and it fills its own cache with the whole new shell at once. The
// shell is then answered from that cache, so the page never mixes files of two releases, online or not.

const VERSION = "__SHELL_VERSION__";
const CACHE = `metro-qr-shell-${VERSION}`;
const SHELL = [
  "/",
  "/app/app.css",
  "/app/app.js",
  "/app/api.js",
  "/app/i18n.js",
  "/app/wallet.js",
  "/app/views.js",
  "/app/icon.svg",
  "/app/manifest.webmanifest",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((path) => new Request(path, { cache: "reload" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (!SHELL.includes(path)) return;
  event.respondWith(
    caches
      .open(CACHE)
      .then((cache) => cache.match(path))
      .then((kept) => kept || fetch(event.request)),
  );
});
