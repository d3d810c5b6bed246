/**
 * What makes a sentence a decision: "we decided / chose / agreed / will use / recommend / let's go with", the
 * "Decision:" prefix, and the negative forms ("we will not use", "we won't use", "decided against", "let's not",
 * "we dropped support for"), but not talk about deciding ("we have not decided", "should we…", "whether").
 */

export const DECISION_PATTERNS: RegExp[] = [
  /\b(?:we|i|the team|team|everyone|they|both of us|all of us)\s+(?:have\s+|had\s+|all\s+|finally\s+|just\s+|then\s+)?(?:decided|agreed|chose|opted|settled|concluded|resolved|committed)\b/i,
  /^\s*(?:[-*+]\s+)?(?:\*\*|__)?(?:final\s+)?(?:decision|decided|resolution|resolved|conclusion|verdict|outcome|agreed|chosen option)(?:\*\*|__)?\s*(?:[:\-–—]|\*\*:)/i,
  /\blet'?s\s+(?:not\s+|just\s+|also\s+)?(?:go with|use|stick with|switch to|adopt|keep|pick|choose|standardi[sz]e on|move to|migrate to|settle on|add|drop|ship|do)\b/i,
  /\bwe(?:'ll| will| are going to|'re going to| shall| should all| are)\s+(?:now\s+|also\s+|only\s+)?(?:use|go with|adopt|switch to|stick with|keep using|move to|migrate to|standardi[sz]e on|drop|replace|going with|switching to|moving to|require|ship|support)\b/i,
  /\bwe(?:'ll| will| are going to|'re going to| shall)?\s*(?:not|never|no longer)\s+(?:use|adopt|switch to|support|ship|go with|add|keep|require|depend on|publish)\b/i,
  /\bwe\s+(?:won't|will not|shan't|do not|don't)\s+(?:use|adopt|switch to|support|ship|go with|add|keep|depend on|publish)\b/i,
  /\b(?:we|i)\s+(?:strongly\s+|now\s+|still\s+)?recommend\b/i,
  /\bwe\s+(?:have\s+)?(?:dropped|removed|ended|deprecated)\s+support\b/i,
  /\b(?:going forward|from now on|henceforth)\b/i,
  /\b(?:the|our|final)\s+decision\s+(?:is|was)\b/i,
  /\b(?:agreed|approved|accepted)\s*(?:[:,—–-]|to\b|that\b|on\b)/i,
  /\b(?:decided|decision)\s+(?:to|that|on|against)\b/i,
];

/** Cheap screen: a sentence without any of these cannot match the patterns above. */
const DECISION_SCREEN = /decid|decision|agree|chose|chosen|opted|settled|conclu|resolv|commit|let'?s|we(?:'ll|'re| will| are| shall| should| won't| do| don't|\s+\w+\s+recommend| recommend| have| dropped| removed| ended| deprecated| no longer| not| never)|going forward|from now on|henceforth|approved|accepted|verdict|outcome|recommend/i;

/** Talk about a decision that was not (yet) made. */
const NOT_DECIDED = /\b(?:not|haven't|hasn't|didn't|never|un)\s*(?:yet\s+)?(?:decided|agreed|chosen)\b|\bundecided\b|\bif we decide\b|\bshould we\b|\bwhether\b|\bnot decided\b/i;

/** Whether a sentence (inline Markdown already stripped) states a decision. */
export function isDecision(text: string): boolean {
  if (/\?\s*["')\]]*$/.test(text)) return false;
  if (text.split(/\s+/).length < 4) return false;
  return DECISION_SCREEN.test(text) && DECISION_PATTERNS.some((p) => p.test(text)) && !NOT_DECIDED.test(text);
}

/** A Markdown heading that is itself a decision ("## Decision: use SQLite", "## We chose FAISS"). */
export function isDecisionHeading(heading: string): boolean {
  return /^(?:decision|decided)\s*[:\-–—]/i.test(heading) || DECISION_PATTERNS.slice(0, 3).some((p) => p.test(heading));
}
