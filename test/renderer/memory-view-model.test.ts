/** The Memory view's small rules: tags as a person types them, short texts, topic labels. */
import { describe, expect, it } from 'vitest';
import { clip, parseTags, topicLabel } from '../../src/renderer/src/views/memory/model';

describe('memory view model', () => {
  it('reads tags separated by commas or spaces, with or without #, each once', () => {
    expect(parseTags('database, flaky #capacity')).toEqual(['database', 'flaky', 'capacity']);
    expect(parseTags('  ##ci,,ci  flaky\n')).toEqual(['ci', 'flaky']);
    expect(parseTags(' , # ')).toEqual([]);
  });

  it('clips a text to one line of at most the given length, with an ellipsis only when cut', () => {
    expect(clip('short\n  text', 20)).toBe('short text');
    expect(clip('a'.repeat(30), 10)).toBe(`${'a'.repeat(9)}…`);
  });

  it('joins a topic’s words, and names a topic without any', () => {
    expect(topicLabel(['pool', 'connection'])).toBe('pool · connection');
    expect(topicLabel([])).toBe('(unlabelled)');
  });
});
