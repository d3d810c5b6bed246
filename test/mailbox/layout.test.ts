/** The file mailbox's folder layout: which path is what. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MailboxLayout, projectFolder, projectOfFolder } from '../../src/main/mailbox';
import { mailboxIdempotencyKey } from '../../src/main/mailbox/outbox-file';

describe('mailbox layout', () => {
  it('turns any project name into one safe folder name and back', () => {
    const cases: Array<[string, string]> = [
      ['acme', 'acme'],
      ['my-app_2.0', 'my-app_2.0'],
      ['acme/web', 'acme%2Fweb'],
      ['my app', 'my%20app'],
      ['_register', '%5Fregister'],
      ['.hidden', '%2Ehidden'],
      ['..', '%2E.'],
      ['100%', '100%25'],
      ['Zürich', 'Z%C3%BCrich'],
      ['a\\b:c*?', 'a%5Cb%3Ac%2A%3F'],
    ];
    for (const [project, folder] of cases) {
      expect(projectFolder(project)).toBe(folder);
      expect(projectOfFolder(folder)).toBe(project);
    }
    // Only the canonical spelling is a project folder.
    expect(projectOfFolder('my app')).toBeUndefined();
    expect(projectOfFolder('acme%2fweb')).toBeUndefined();
    expect(projectOfFolder('%E0%A4%A')).toBeUndefined();
    expect(projectOfFolder('_register')).toBeUndefined();
  });

  it('knows what each path is, and which to leave unwatched', () => {
    const layout = new MailboxLayout('/data');
    const root = '/data/mailbox';
    expect(layout.classify(path.join(root, '_register', 'me.json'))).toEqual({ kind: 'registration', name: 'me.json' });
    expect(layout.classify(path.join(root, '_register', 'rejected', 'me.json')).kind).toBe('other');
    expect(layout.classify(path.join(root, 'acme%2Fweb', 'bob'))).toEqual({ kind: 'agent-dir', project: 'acme/web', name: 'bob', dir: path.join(root, 'acme%2Fweb', 'bob') });
    expect(layout.classify(path.join(root, 'acme', 'bob', 'outbox', 'x.json'))).toMatchObject({ kind: 'outbox', project: 'acme', name: 'bob', file: 'x.json' });
    expect(layout.classify(path.join(root, 'acme', 'bob', 'requests', 'r.json'))).toMatchObject({ kind: 'request', project: 'acme', name: 'bob', file: 'r.json' });
    for (const other of [
      'acme/bob/outbox/x.json.tmp',
      'acme/bob/outbox/.x.json',
      'acme/bob/inbox/x.json',
      'acme/bob/outbox/x.txt',
      'acme/.bob',
      'acme/bob/outbox/.sending/x.json',
      'acme/bob/answers/r.json',
      'acme/bob/requests/.working/r.json',
      'acme/bob/requests/r.json.tmp',
    ]) {
      expect(layout.classify(path.join(root, other)).kind, other).toBe('other');
    }

    for (const watched of ['', '_register', '_register/a.json', 'acme', 'acme/bob', 'acme/bob/outbox', 'acme/bob/outbox/x.json', 'acme/bob/requests', 'acme/bob/requests/r.json']) {
      expect(layout.ignored(path.join(root, watched)), watched).toBe(false);
    }
    for (const unwatched of ['_register/rejected', 'acme/bob/inbox', 'acme/bob/rejected', 'acme/bob/agent.json', 'acme/bob/outbox/.sending', 'acme/bob/outbox/x.json.tmp', '.git', '_other', 'acme/bob/outbox/dir/x.json', 'acme/bob/answers', 'acme/bob/requests/.working']) {
      expect(layout.ignored(path.join(root, unwatched)), unwatched).toBe(true);
    }
    expect(layout.ignored('/elsewhere/file.json')).toBe(true);
  });

  it('makes idempotency keys from the file name and content, within 200 characters', () => {
    const key = mailboxIdempotencyKey('a.json', '{"to":"b","body":"x"}');
    expect(key).toMatch(/^mailbox:a\.json:[0-9a-f]{64}$/);
    expect(mailboxIdempotencyKey('a.json', '{"to":"b","body":"y"}')).not.toBe(key);
    expect(mailboxIdempotencyKey('b.json', '{"to":"b","body":"x"}')).not.toBe(key);
    const long = mailboxIdempotencyKey(`${'n'.repeat(250)}.json`, 'x');
    expect(long.length).toBeLessThanOrEqual(200);
    expect(long).not.toBe(mailboxIdempotencyKey(`${'n'.repeat(251)}.json`, 'x'));
  });
});
