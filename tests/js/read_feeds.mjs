// Parse feed files with two Node.js reader libraries and print what they saw as JSON.
// Usage: node read_feeds.mjs FILE...   (one JSON object per file, keyed by path)
import { readFileSync } from "node:fs";
import { parseFeed } from "@rowanmanning/feed-parser";
import Parser from "rss-parser";

const rssParser = new Parser();
const out = {};
for (const path of process.argv.slice(2)) {
  const text = readFileSync(path, "utf8");
  const result = { errors: [] };
  try {
    const feed = parseFeed(text);
    result.rowan = {
      title: feed.title,
      url: feed.url,
      self: feed.self,
      updated: feed.updated ? feed.updated.toISOString() : null,
      authors: feed.authors.map((a) => a.name),
      items: feed.items.map((i) => ({
        id: i.id,
        title: i.title,
        url: i.url,
        published: i.published ? i.published.toISOString() : null,
        updated: i.updated ? i.updated.toISOString() : null,
        categories: i.categories.map((c) => c.label || c.term),
        content: i.content || i.description,
      })),
    };
  } catch (error) {
    result.errors.push(`@rowanmanning/feed-parser: ${error.message}`);
  }
  try {
    // xml2js underneath is a strict XML parser: malformed XML throws.
    const feed = await rssParser.parseString(text);
    result.rssParser = {
      title: feed.title,
      link: feed.link,
      items: feed.items.map((i) => ({ id: i.guid || i.id, title: i.title, link: i.link, isoDate: i.isoDate || null })),
    };
  } catch (error) {
    result.errors.push(`rss-parser: ${error.message}`);
  }
  out[path] = result;
}
process.stdout.write(JSON.stringify(out));
