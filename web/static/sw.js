/**
 * SoundForge's service worker (served at /sw.js so that its scope is the whole site).
 *
 * - Install: precache the application shell (styles, scripts, icons, the offline page) one
 *   request at a time, each in its own try/catch, so that one missing file is logged and
 *   skipped instead of failing the installation (and with it the whole PWA).
 * - Navigations: network first; when the network fails, the offline page. Pages are never
 *   cached: they hold one user's data.
 * - /static/: cache first, refreshed in the background (stale-while-revalidate).
 * - Never touched: /api/, /ws, audio, anything but GET, other origins.
 * - The cache is named after the server's front-end version (the server stamps a hash of
 *   web/ into this file), so a new front end installs a new worker, which deletes the old
 *   caches when it activates.
 *
 * `?probe=/some/path` on the worker's URL adds one more URL to the precache list; the tests
 * use it to check that a failing entry does not break installation.
 */

const VERSION = '__SOUNDFORGE_SHELL_VERSION__';
const CACHE = `soundforge-shell-${VERSION}`;
const OFFLINE_URL = '/offline';
const SHELL = [
  OFFLINE_URL,
  '/manifest.webmanifest',
  '/static/css/app.css',
  '/static/js/app.js',
  '/static/js/api.js',
  '/static/js/live.js',
  '/static/js/library.js',
  '/static/js/track-row.js',
  '/static/js/settings.js',
  '/static/icons/icon.svg',
  '/static/icons/icon-192.png',
  '/static/icons/icon-512.png',
  '/static/icons/icon-maskable-512.png',
];

function shellUrls() {
  const urls = [...SHELL];
  const probe = new URL(self.location.href).searchParams.get('probe');
  if (probe && probe.startsWith('/') && !probe.startsWith('//')) urls.push(probe);
  return urls;
}

async function precache() {
  const cache = await caches.open(CACHE);
  const failed = [];
  for (const url of shellUrls()) {
    try {
      await cache.add(new Request(url, { cache: 'reload', credentials: 'same-origin' }));
    } catch (error) {
      failed.push(url);
      console.warn(`SoundForge service worker: could not precache ${url}:`, error);
    }
  }
  return failed;
}

self.addEventListener('install', (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names
      .filter((name) => name.startsWith('soundforge-') && name !== CACHE)
      .map((name) => caches.delete(name)));
    await self.clients.claim();
  })());
});

function bypass(request, url) {
  if (request.method !== 'GET' || url.origin !== self.location.origin) return true;
  const path = url.pathname;
  if (path.startsWith('/api/') || path === '/ws' || path.startsWith('/ws/') || path === '/sw.js') return true;
  if (request.destination === 'audio' || request.destination === 'video') return true;
  if (request.headers.has('range') || path.includes('/audio')) return true;
  return /\.(wav|flac|mp3|ogg|oga|opus|m4a|aac|aiff?|zip)$/i.test(path);
}

async function navigate(event) {
  try {
    const preloaded = await event.preloadResponse;
    if (preloaded) return preloaded;
    return await fetch(event.request);
  } catch {
    const offline = await caches.match(OFFLINE_URL, { cacheName: CACHE });
    return offline ?? new Response('SoundForge cannot be reached; try again later.', {
      status: 503, headers: { 'Content-Type': 'text/plain; charset=utf-8' },
    });
  }
}

async function refresh(cache, request) {
  const response = await fetch(request);
  if (response.ok && response.type === 'basic') await cache.put(request, response.clone());
  return response;
}

async function staticAsset(event) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(event.request);
  if (cached) {
    // Serve the cached copy now; fetch the current one for next time.
    event.waitUntil(refresh(cache, event.request).catch(() => undefined));
    return cached;
  }
  return refresh(cache, event.request);
}

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (bypass(request, url)) return;
  if (request.mode === 'navigate') {
    event.respondWith(navigate(event));
  } else if (url.pathname.startsWith('/static/') || url.pathname === '/manifest.webmanifest') {
    event.respondWith(staticAsset(event));
  }
});
