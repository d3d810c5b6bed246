/** What a memory names, found by pure text code (graph/entities.ts): each kind, normalised, and ordinary words left alone. */
import { describe, expect, it } from 'vitest';
import { extractEntities } from '../../src/main/memory/graph/entities';

const values = (text: string, kind: string) => extractEntities(text).filter((entity) => entity.kind === kind).map((entity) => entity.value);

describe('entities of a memory', () => {
  it('finds paths, symbols, error codes, URLs, people, tickets and commits, normalised', () => {
    expect(values('The retry helper in ./src/lib/retry.ts:42 reads config.json', 'path')).toEqual(['src/lib/retry.ts', 'config.json']);
    expect(values('backoffDelay() reads MAX_RETRIES and UserService.findById', 'symbol')).toEqual(expect.arrayContaining(['backoffDelay', 'MAX_RETRIES', 'UserService.findById']));
    expect(values('connect ECONNREFUSED 127.0.0.1:5432, then TS2345 and HTTP 503', 'error')).toEqual(['ECONNREFUSED', 'TS2345', 'HTTP 503']);
    expect(values('See https://github.com/acme/shop/issues/482#issuecomment-1 for details.', 'url')).toEqual(['https://github.com/acme/shop/issues/482']);
    expect(values('Ask @Maria or bob.smith@acme.io', 'person')).toEqual(['bob.smith@acme.io', '@maria']);
    expect(values('Fixed PAY-1234 and #482 (not UTF-8)', 'ticket')).toEqual(['PAY-1234', '#482']);
    expect(values('Reverted 9f3c2ab71e; 1234567 is a number and deadbeef a word', 'commit')).toEqual(['9f3c2ab71e']);
  });

  it('takes nothing from ordinary prose, and reads a URL\'s path as the URL\'s', () => {
    expect(extractEntities('We decided to use pnpm for the monorepo because installs are faster.')).toEqual([]);
    expect(extractEntities('Docs at https://example.com/src/lib/retry.ts')).toEqual([{ kind: 'url', value: 'https://example.com/src/lib/retry.ts' }]);
  });

  it('keeps at most 24 entities of a long memory', () => {
    const text = Array.from({ length: 100 }, (_, i) => `src/module${i}/file.ts`).join(' ');
    expect(extractEntities(text)).toHaveLength(24);
  });
});
