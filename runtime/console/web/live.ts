/**
 * The live feed (Server-Sent Events from /_lanes/ui/api/stream): new figures after each sample
 * and, on a function's page, its requests as they are answered. The browser reconnects by itself
 * when the stream breaks; a `logout` event (the session ended) reloads to the login form. A
 * stream the host refuses (401 once the host has restarted and forgotten the session, 429, 503)
 * the browser gives up on for good: then the page asks the host whether the session is still
 * there (a 401 reloads to the login form: api.ts) and opens the stream again a little later.
 */
import { BASE, get, type LiveState, type RecentRequest } from "./api.ts";

export interface LiveHandlers {
  sample?(state: LiveState): void;
  requests?(entries: RecentRequest[]): void;
  errors?(entries: RecentRequest[]): void;
}

const REOPEN_MS = 5000;

export function openStream(fn: string | undefined, handlers: LiveHandlers): () => void {
  let es: EventSource;
  let stopped = false;
  let reopen: number | undefined;
  const indicator = () => {
    const el = document.getElementById("live");
    if (!el) return;
    const open = es.readyState === EventSource.OPEN;
    el.className = `live ${open ? "on" : "off"}`;
    el.textContent = open ? "Live" : es.readyState === EventSource.CONNECTING ? "Reconnecting…" : "Offline";
  };
  const connect = () => {
    es = new EventSource(`${BASE}/api/stream${fn ? `?fn=${encodeURIComponent(fn)}` : ""}`);
    const on = <T>(event: string, handler: ((data: T) => void) | undefined) =>
      handler && es.addEventListener(event, (e) => handler(JSON.parse((e as MessageEvent<string>).data) as T));
    on("sample", handlers.sample);
    on("requests", handlers.requests);
    on("errors", handlers.errors);
    es.addEventListener("logout", () => {
      es.close();
      location.reload();
    });
    es.addEventListener("open", indicator);
    es.addEventListener("sample", indicator);
    es.addEventListener("error", () => {
      indicator();
      if (es.readyState !== EventSource.CLOSED || stopped) return;
      void get("overview")
        .catch(() => {})
        .then(() => {
          if (!stopped) reopen = window.setTimeout(connect, REOPEN_MS);
        });
    });
  };
  connect();
  return () => {
    stopped = true;
    clearTimeout(reopen);
    es.close();
  };
}
