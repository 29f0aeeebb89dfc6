// The app shell, kept so the app opens with no network (three of Line 1's stations are underground). The
// tickets themselves live in the page's localStorage (wallet.js); the API is never cached here: an answer
// carrying an access token must not sit in a cache.

const CACHE = "metro-qr-shell-v1";
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
      .then((cache) => cache.addAll(SHELL))
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

// The shell: the network first (a new release shows at once), the cache when there is none.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  const shell = url.pathname === "/" || url.pathname.startsWith("/app/");
  if (!shell) return;
  event.respondWith(
    fetch(event.request)
      .then((answer) => {
        if (answer.ok) {
          const copy = answer.clone();
          caches.open(CACHE).then((cache) => cache.put(url.pathname, copy));
        }
        return answer;
      })
      .catch(() => caches.match(url.pathname).then((kept) => kept || caches.match("/"))),
  );
});
