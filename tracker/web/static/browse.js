// Browse page: search and filter announcements through /api/announcements and show the
// feed that matches the filter. Text from the API is only ever set as textContent.
"use strict";

const $ = (id) => document.getElementById(id);
let nextUrl = null;

function option(select, value, label) {
  const opt = document.createElement("option");
  opt.value = value;
  opt.textContent = label;
  select.appendChild(opt);
}

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  const data = await response.json();
  if (!response.ok) {
    throw new Error((data.error && data.error.message) || response.statusText);
  }
  return data;
}

function safeHttpUrl(value) {
  try {
    const url = new URL(value, window.location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (error) {
    return null;
  }
}

function render(item) {
  const li = document.createElement("li");
  li.className = "announcement";
  li.dataset.id = String(item.id);
  const title = document.createElement(item.url && safeHttpUrl(item.url) ? "a" : "strong");
  title.className = "title";
  title.textContent = item.title;
  if (title.tagName === "A") title.href = safeHttpUrl(item.url);
  li.appendChild(title);
  const meta = document.createElement("div");
  meta.className = "meta";
  const bits = [];
  if (item.announced_at) bits.push(item.announced_at.slice(0, 10));
  if (item.services.length) bits.push(item.services.join(", "));
  if (item.event) bits.push(item.event);
  meta.textContent = bits.join(" · ");
  li.appendChild(meta);
  if (item.summary) {
    const p = document.createElement("p");
    p.textContent = item.summary;
    li.appendChild(p);
  }
  const videos = item.sessions.filter((s) => s.url && safeHttpUrl(s.url));
  if (videos.length) {
    const p = document.createElement("p");
    p.textContent = "Sessions: ";
    videos.forEach((s, i) => {
      const a = document.createElement("a");
      a.href = safeHttpUrl(s.url);
      a.textContent = s.code ? `${s.code}: ${s.title}` : s.title;
      if (i) p.appendChild(document.createTextNode(", "));
      p.appendChild(a);
    });
    li.appendChild(p);
  }
  return li;
}

function showFeed(feed) {
  const box = $("feed");
  if (!feed) {
    box.hidden = true;
    return;
  }
  $("feed-atom").href = feed.atom;
  $("feed-rss").href = feed.rss;
  $("feed-json").href = feed.json;
  box.hidden = false;
}

async function load(url, append) {
  $("status").textContent = "Loading…";
  $("status").className = "";
  try {
    const page = await getJson(url);
    if (!append) $("results").replaceChildren();
    page.items.forEach((item) => $("results").appendChild(render(item)));
    nextUrl = page.next;
    $("more").hidden = !nextUrl;
    showFeed(page.feed);
    const shown = $("results").children.length;
    $("status").textContent = shown ? `${shown} announcement${shown === 1 ? "" : "s"} shown` : "No announcement matches.";
  } catch (error) {
    $("status").textContent = `Error: ${error.message}`;
    $("status").className = "error";
  }
}

function currentQuery() {
  const params = new URLSearchParams();
  for (const name of ["q", "service", "event"]) {
    const value = $(name).value.trim();
    if (value) params.set(name, value);
  }
  return params;
}

function search() {
  const params = currentQuery();
  const shown = params.toString();
  history.replaceState(null, "", shown ? `?${shown}` : window.location.pathname);
  load(`/api/announcements?${params.toString()}`, false);
}

async function init() {
  const [services, events] = await Promise.all([getJson("/api/services"), getJson("/api/events")]);
  services.items.forEach((s) => option($("service"), s.slug, `${s.name} (${s.announcements})`));
  events.items.forEach((e) => option($("event"), e.slug, `${e.name} (${e.announcements})`));
  const initial = new URLSearchParams(window.location.search);
  for (const name of ["q", "service", "event"]) {
    if (initial.get(name)) $(name).value = initial.get(name);
  }
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    search();
  });
  $("service").addEventListener("change", search);
  $("event").addEventListener("change", search);
  $("more").addEventListener("click", () => nextUrl && load(nextUrl, true));
  search();
}

document.addEventListener("DOMContentLoaded", () => {
  init().catch((error) => {
    $("status").textContent = `Error: ${error.message}`;
    $("status").className = "error";
  });
});
