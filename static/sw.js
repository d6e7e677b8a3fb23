/*
 * Ledgerlink service worker, served from /sw.js so its scope is the whole site.
 *
 * What it does, and on purpose nothing more:
 *   - pre-caches the public static assets and the offline page;
 *   - answers GET /static/… from that cache first (they are public and the same for
 *     everyone);
 *   - lets page navigations go to the network, and only when the network itself fails
 *     shows the cached offline page.
 *
 * What it never does: cache a page, an htmx fragment, an API answer or anything else
 * outside /static/. Every page in Ledgerlink is behind sign-in and some show credential
 * forms (served with Cache-Control: no-store). Anything kept in Cache Storage outlives
 * sign-out, is shared by everyone using the device, and could be shown to the next
 * person offline. So only GET responses under /static/ are stored, and even those only
 * when they are complete same-origin 200s that do not say no-store or private.
 *
 * Bump VERSION whenever a pre-cached file changes: the changed sw.js makes browsers
 * install the new worker, which fetches fresh copies and deletes the old cache.
 */
"use strict";

const VERSION = "v2";
const CACHE_PREFIX = "ledgerlink-static-";
const CACHE = CACHE_PREFIX + VERSION;
const OFFLINE_URL = "/static/offline.html";

const PRECACHE = [
  OFFLINE_URL,
  "/static/css/app.css",
  "/static/js/app.js",
  "/static/vendor/htmx.min.js",
  "/static/icons/icon.svg",
  "/static/icons/icon-192.png",
  "/static/icons/icon-512.png",
  "/static/icons/maskable-512.png",
  "/static/icons/apple-touch-icon-180.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // The offline page is essential: if it cannot be cached, installation fails and the
      // browser tries again later. The rest is best effort (vendor/ may be missing in a
      // checkout that has not run `make assets` yet).
      await cache.add(new Request(OFFLINE_URL, { cache: "reload" }));
      await Promise.all(
        PRECACHE.filter((url) => url !== OFFLINE_URL).map(async (url) => {
          try {
            const response = await fetch(new Request(url, { cache: "reload" }));
            if (isCacheable(response)) await cache.put(url, response);
          } catch (err) {
            // Fetched again, on first use, by the cache-first handler below.
          }
        })
      );
      await self.skipWaiting();
    })()
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names
          .filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE)
          .map((name) => caches.delete(name))
      );
      // Navigation preload lets the page request start while this worker boots, so
      // routing navigations through it costs no time.
      if (self.registration.navigationPreload) {
        await self.registration.navigationPreload.enable();
      }
      await self.clients.claim();
    })()
  );
});

/* A response may be stored only if it is a complete, same-origin, 200 answer that does
   not forbid storing it. */
function isCacheable(response) {
  if (!response || response.status !== 200 || response.type !== "basic") return false;
  const cacheControl = (response.headers.get("Cache-Control") || "").toLowerCase();
  if (cacheControl.includes("no-store") || cacheControl.includes("private")) return false;
  if ((response.headers.get("Vary") || "").includes("*")) return false;
  return true;
}

function isStaticAsset(url) {
  return url.origin === self.location.origin && url.pathname.startsWith("/static/");
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (isCacheable(response)) {
    await cache.put(request, response.clone());
  }
  return response;
}

async function networkWithOfflineFallback(event) {
  try {
    // Network only: the page is never stored, whatever its headers say.
    const preloaded = await event.preloadResponse;
    if (preloaded) return preloaded;
    return await fetch(event.request);
  } catch (err) {
    // Only a failed network gets here; an error page from the server is passed through.
    const offline = await caches.match(OFFLINE_URL);
    return offline || Response.error();
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  // Anything but GET (form posts, htmx writes) goes straight to the network untouched.
  if (request.method !== "GET") return;

  if (request.mode === "navigate") {
    event.respondWith(networkWithOfflineFallback(event));
    return;
  }

  const url = new URL(request.url);
  if (isStaticAsset(url)) {
    event.respondWith(cacheFirst(request));
  }
  // Everything else (htmx fragments, JSON, the manifest, other origins): no respondWith,
  // so the browser fetches it normally and this worker never sees or stores it.
});
