/** The word-level rule of update detection (supersession.ts) on its own, with the similarity given. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SUPERSESSION, noteFacts, relateNotes } from '../../src/main/memory/supersession';

const relate = (older: string, newer: string, similarity: number) =>
  relateNotes(noteFacts(newer), noteFacts(older), similarity, { ...DEFAULT_SUPERSESSION, reinforce: 0.95 }).relation;

describe('update detection rule', () => {
  it('reads a replaced value or a negation as an update', () => {
    expect(relate('Use Node 18 for the build.', 'Use Node 22 for the build.', 0.97)).toBe('update');
    expect(relate('Rate limit is 100 requests per minute.', 'Rate limit is 1,000 requests per minute.', 0.96)).toBe('update');
    expect(relate('Use yarn to install dependencies.', 'Use pnpm to install dependencies.', 0.9)).toBe('update');
    expect(relate('Use feature flags for risky changes.', 'Do not use feature flags for risky changes.', 0.9)).toBe('update');
    expect(relate('The sprint demo is on the 12th.', 'The sprint demo moved to the 19th.', 0.8)).toBe('update');
  });

  it('reads the same values reworded as a restatement', () => {
    expect(relate('Use Node 22 for the build.', 'The build should use Node 22.', 0.87)).toBe('restatement');
    expect(relate('The staging database runs on port 5433.', 'The staging database runs on port 5433!', 0.99)).toBe('restatement');
  });

  it('keeps another subject apart, even with a changed value or a word that can mark a change', () => {
    expect(relate('The staging database runs on port 5433.', 'The production database runs on port 5432.', 0.78)).toBe('unrelated');
    expect(relate('Max upload size is 10 MB.', 'Max avatar size is 1 MB.', 0.7)).toBe('unrelated');
    // "now" in a tail does not make another subject an update.
    expect(
      relate(
        'Design review outcome: TODO for Farid: document the session cookies handling in src/main/tokenizer.ts before the 0.3 release.',
        'TODO for Viktor: benchmark the session cookies handling in src/main/monitor/engine.ts before the 0.3 release. Low priority for now.',
        0.69,
      ),
    ).toBe('unrelated');
    // New values added (an error code, a count) are not a rewording of the same error: not folded into it.
    expect(
      relate(
        'Crash: a heap out of memory crash from the websocket gateway while the config file is edited by hand, traced to a listener registered twice after reconnect.',
        'Crash: EMFILE from the event bus while the repository has 50,000 files, traced to a listener registered twice after reconnect.',
        0.84,
      ),
    ).toBe('unrelated');
  });
});
