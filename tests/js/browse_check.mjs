// Drive the browse page of a running `tracker serve` in headless Chromium, the way a person
// would, and print what the page showed at each step as JSON.
// Usage: node browse_check.mjs BASE_URL CHROMIUM_PATH
import { chromium } from "playwright-core";

const [base, executablePath] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
const errors = [];
const dialogs = [];
const steps = {};
try {
  const page = await browser.newPage();
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("dialog", async (dialog) => {
    dialogs.push(dialog.message());
    await dialog.dismiss();
  });

  // Settled: the list is shown and the chart shows the launches of the query in the address bar.
  const settled = () =>
    page.waitForFunction(() => {
      const status = document.getElementById("status").textContent;
      const chart = document.getElementById("chart").dataset.query;
      const shown = new URLSearchParams(window.location.search).toString();
      return (
        status && !status.startsWith("Loading") && chart !== undefined && new URLSearchParams(chart).toString() === shown
      );
    });
  // What the chart shows: its data attributes, and the pixels of its canvas in the bars' colour.
  const chartShot = () =>
    page.$eval("#chart", (chart) => {
      const canvas = chart.querySelector("canvas");
      let barPixels = 0;
      if (canvas && canvas.width && canvas.height) {
        const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < pixels.length; i += 4) {
          // rgba(35, 99, 178, 0.6): blue well above red, and opaque enough not to be a grid line
          if (pixels[i + 2] > 140 && pixels[i] < 90 && pixels[i + 3] > 100) barPixels += 1;
        }
      }
      const list = (value) => (value ? value.split(",") : []);
      return {
        hidden: document.getElementById("chart-box").hidden,
        query: chart.dataset.query,
        months: list(chart.dataset.months),
        counts: list(chart.dataset.counts).map(Number),
        undated: Number(chart.dataset.undated),
        caption: document.getElementById("chart-caption").textContent,
        canvases: chart.querySelectorAll("canvas").length,
        barPixels,
      };
    });
  const snapshot = async () => ({
    url: page.url(),
    status: await page.textContent("#status"),
    titles: await page.$$eval("#results li .title", (els) => els.map((e) => e.textContent)),
    links: await page.$$eval("#results li a.title", (els) => els.map((e) => e.getAttribute("href"))),
    feedHidden: await page.$eval("#feed", (e) => e.hidden),
    feed: await page.$$eval("#feed a", (els) => els.map((e) => e.getAttribute("href"))),
    more: await page.$eval("#more", (e) => !e.hidden),
    chart: await chartShot(),
  });
  const act = async (action) => {
    const answered = page.waitForResponse((r) => r.url().includes("/api/announcements"));
    await action();
    await answered;
    await settled();
  };

  await page.goto(base + "browse");
  await settled();
  steps.initial = await snapshot();
  steps.services = await page.$$eval("#service option", (els) => els.map((e) => e.value));
  steps.events = await page.$$eval("#event option", (els) => els.map((e) => e.value));

  await act(() => page.click("#more"));
  steps.more = await snapshot();

  await page.fill("#q", "vector");
  await act(() => page.click("button[type=submit]"));
  steps.search = await snapshot();

  await act(() => page.selectOption("#service", "amazon-s3"));
  steps.searchAndService = await snapshot();

  await page.fill("#q", "");
  await act(() => page.press("#q", "Enter"));
  steps.service = await snapshot();

  const eventSlug = steps.events.find((value) => value);
  await act(() => page.selectOption("#event", eventSlug));
  steps.serviceAndEvent = await snapshot();

  await page.fill("#q", "<img src=x onerror=alert(1)>");
  await act(() => page.press("#q", "Enter"));
  steps.hostile = await snapshot();

  // A shared link restores the filters.
  await page.goto(base + "browse?service=aws-lambda&q=durable");
  await settled();
  steps.shared = await snapshot();
  steps.sharedInputs = {
    q: await page.inputValue("#q"),
    service: await page.inputValue("#service"),
  };
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify({ steps, errors, dialogs }));
