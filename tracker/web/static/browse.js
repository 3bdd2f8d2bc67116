// Browse page: search and filter announcements through /api/announcements, show the feed that
// matches the filter and a chart of its launches per month (/api/months, drawn by the vendored
// uPlot). Text from the API is only ever set as textContent.
"use strict";

const $ = (id) => document.getElementById(id);
let nextUrl = null;
let plot = null; // the uPlot chart, made on the first answer with a dated launch
let chartRequest = 0; // answers to older requests than the last are dropped

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

// The months on the x axis, one bar each at x = 0, 1, 2…: an ordinal axis, so every month has
// the same width whatever its number of days.
let chartMonths = [];

function monthSplits() {
  const step = Math.max(1, Math.ceil(chartMonths.length / 12)); // at most a dozen labels
  const splits = [];
  for (let i = 0; i < chartMonths.length; i += step) splits.push(i);
  return splits;
}

function chartOptions(width) {
  return {
    width,
    height: 220,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: {
      x: { time: false, range: (u, min, max) => [min - 0.5, max + 0.5] },
      y: { range: (u, min, max) => [0, Math.max(1, max)] },
    },
    axes: [
      { splits: monthSplits, values: (u, splits) => splits.map((i) => chartMonths[i] || "") },
      { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000] },
    ],
    series: [
      {},
      {
        label: "Launches",
        fill: "rgba(35, 99, 178, 0.6)",
        stroke: "rgb(35, 99, 178)",
        paths: uPlot.paths.bars({ size: [0.8, 60] }),
        points: { show: false },
      },
    ],
  };
}

// The chart shows the months of the answer; #chart's data attributes say what it shows (for
// people's tools and the browser test): the query, the months and the counts.
function drawChart(query, answer) {
  const chart = $("chart");
  const months = answer.months.map((m) => m.month);
  const counts = answer.months.map((m) => m.announcements);
  delete chart.dataset.error;
  chart.dataset.query = query;
  chart.dataset.months = months.join(",");
  chart.dataset.counts = counts.join(",");
  chart.dataset.undated = String(answer.undated);
  $("chart-caption").textContent = months.length
    ? `Launches per month (UTC): ${answer.total - answer.undated} dated` +
      (answer.undated ? `, ${answer.undated} without a date` : "")
    : "No dated launch matches.";
  $("chart-box").hidden = false;
  chartMonths = months;
  const data = [months.map((m, i) => i), counts];
  if (!months.length) {
    if (plot) plot.setData([[], []]);
    return;
  }
  if (plot) {
    plot.setData(data);
  } else {
    plot = new uPlot(chartOptions(chart.clientWidth || 600), data, chart);
    window.addEventListener("resize", () => plot.setSize({ width: chart.clientWidth || 600, height: 220 }));
  }
}

async function loadChart(params) {
  const request = ++chartRequest;
  const query = params.toString();
  try {
    const answer = await getJson(`/api/months?${query}`);
    if (request === chartRequest) drawChart(query, answer);
  } catch (error) {
    if (request !== chartRequest) return;
    $("chart-box").hidden = true;
    $("chart").dataset.query = query;
    $("chart").dataset.error = error.message;
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
  loadChart(params);
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
