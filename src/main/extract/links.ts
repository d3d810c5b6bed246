/**
 * Which links in a sentence are worth a memory of their own. Not: badge images and the links around them, other
 * images, links to commits and compare views, issue or pull-request links whose text is only a reference (#231, a
 * short hash), and links inside inline code (the command or snippet carries them). A changelog is mostly these:
 * 196 of 316 items of one were badges and commit links.
 */

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`)\]}]+[^\s<>"'`)\]}.,;:!?]/g;
/** `[![alt](image)](target)`: a badge, both links. */
const LINKED_IMAGE = /\[!\[[^\]\n]*\]\([^)\s]*\)\]\([^)\s]*\)/g;
/** `![alt](image)` */
const IMAGE = /!\[[^\]\n]*\]\([^)\s]*\)/g;
/** `[#231](url)`, `[c0ffee1](url)`, `` [`c0ffee1`](url) ``: a reference the text around it already names. */
const REFERENCE_LINK = /\[`?(?:#\d+|[0-9a-f]{7,40}|[\w.-]+\/[\w.-]+#\d+|[\w.-]+@[0-9a-f]{7,40})`?\]\([^)\s]*\)/gi;
const INLINE_CODE = /`[^`\n]+`/g;
const BADGE_HOSTS = /^(?:img\.shields\.io|shields\.io|badgen\.net|badge\.fury\.io|flat\.badgen\.net|coveralls\.io\/repos|api\.netlify\.com\/api\/v1\/badges|snyk\.io\/test|app\.fossa\.com\/api|deepscan\.io\/api|bestpractices\.coreinfrastructure\.org\/projects\/\d+\/badge)/i;
const BADGE_PATH = /(?:\/badge(?:\.svg)?|\/badges?\/|[./]svg(?:\?|$)|\.png(?:\?|$)|\/graph\/badge)/i;
/** Links to one commit, a compare view, or a CI run: identifiers, not knowledge. */
const COMMIT_LIKE = /\/(?:commit|commits)\/[0-9a-f]{7,40}\b|\/compare\/[^/\s]+\.\.\.?[^/\s]+|\/-\/commit\/[0-9a-f]{7,40}\b/i;

/** The URLs of a sentence worth keeping, with where each starts. */
export function keptUrls(raw: string): Array<{ url: string; index: number }> {
  if (!raw.includes('://')) return [];
  // Blank out what is not kept, so the remaining matches keep their offsets.
  const blank = (text: string, pattern: RegExp) => text.replace(pattern, (m) => ' '.repeat(m.length));
  let visible = raw;
  for (const pattern of [LINKED_IMAGE, IMAGE, REFERENCE_LINK, INLINE_CODE]) visible = blank(visible, pattern);
  const kept: Array<{ url: string; index: number }> = [];
  for (const match of visible.matchAll(URL_PATTERN)) {
    const url = match[0];
    const rest = url.replace(/^https?:\/\//i, '');
    if (BADGE_HOSTS.test(rest) || BADGE_PATH.test(rest) || COMMIT_LIKE.test(url)) continue;
    kept.push({ url, index: match.index });
  }
  return kept;
}
