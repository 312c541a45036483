/**
 * The live feed (Server-Sent Events from /_lanes/ui/api/stream): new figures after each sample
 * and, on a function's page, its requests as they are answered. The browser reconnects by itself
 * when the stream breaks; a `logout` event (the session ended) reloads to the login form.
 */
import { BASE, type LiveState, type RecentRequest } from "./api.ts";

export interface LiveHandlers {
  sample?(state: LiveState): void;
  requests?(entries: RecentRequest[]): void;
  errors?(entries: RecentRequest[]): void;
}

export function openStream(fn: string | undefined, handlers: LiveHandlers): () => void {
  const es = new EventSource(`${BASE}/api/stream${fn ? `?fn=${encodeURIComponent(fn)}` : ""}`);
  const on = <T>(event: string, handler: ((data: T) => void) | undefined) =>
    handler && es.addEventListener(event, (e) => handler(JSON.parse((e as MessageEvent<string>).data) as T));
  on("sample", handlers.sample);
  on("requests", handlers.requests);
  on("errors", handlers.errors);
  es.addEventListener("logout", () => {
    es.close();
    location.reload();
  });
  const indicator = () => {
    const el = document.getElementById("live");
    if (!el) return;
    const open = es.readyState === EventSource.OPEN;
    el.className = `live ${open ? "on" : "off"}`;
    el.textContent = open ? "Live" : es.readyState === EventSource.CONNECTING ? "Reconnecting…" : "Offline";
  };
  es.addEventListener("open", indicator);
  es.addEventListener("error", indicator);
  es.addEventListener("sample", indicator);
  return () => es.close();
}
