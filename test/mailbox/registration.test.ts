/** Registering an agent through a drop file in the file mailbox. */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentDir, drop, listing, registerByFile, startMailboxHub, until } from './harness';

describe('file registration', () => {
  it('registers from a drop file: folders, agent.json (0600) with id and token, drop file removed', async () => {
    const hub = await startMailboxHub();
    const agent = await registerByFile(hub.root, 'scribe', 'acme/web', { capabilities: ['notes'], description: 'Takes notes' });
    const dir = agentDir(hub.root, 'acme/web', 'scribe');
    expect(path.basename(path.dirname(dir))).toBe('acme%2Fweb');
    expect(listing(dir)).toEqual(['agent.json', 'answers', 'inbox', 'outbox', 'rejected', 'requests']);
    if (process.platform !== 'win32') expect(statSync(path.join(dir, 'agent.json')).mode & 0o777).toBe(0o600);

    const record = hub.hub.registry.get(agent.id);
    expect(record).toMatchObject({ name: 'scribe', project: 'acme/web', capabilities: ['notes'], description: 'Takes notes' });
    // The token opens the HTTP API, should the agent ever be able to use it.
    expect(hub.hub.registry.authenticate(agent.token).id).toBe(agent.id);
    const status = await hub.api(`/agents/${agent.id}/status`, { token: agent.token });
    expect(status.status).toBe(200);
    await until(() => listing(path.join(hub.root, '_register')).filter((n) => n.endsWith('.json')).length === 0, 5000, 'drop file removed');
    expect(listing(path.join(hub.root, '_register'))).toEqual(['rejected']);
  });

  it('reclaims a registered name: same id; the token is kept while agent.json holds it', async () => {
    const hub = await startMailboxHub();
    const first = await registerByFile(hub.root, 'builder');
    const again = await registerByFile(hub.root, 'builder', 'test', { description: 'second time' });
    expect(again.id).toBe(first.id);
    expect(again.token).toBe(first.token);
    expect(hub.hub.registry.get(first.id).description).toBe('second time');

    // An agent registered over HTTP (token unknown here) is reclaimed with a fresh token, like from the cockpit.
    const http = await hub.register('talker');
    const reclaimed = await registerByFile(hub.root, 'talker');
    expect(reclaimed.id).toBe(http.agent.id);
    expect(reclaimed.token).not.toBe(http.token);
    expect(hub.hub.registry.authenticate(reclaimed.token).id).toBe(http.agent.id);
    expect(() => hub.hub.registry.authenticate(http.token)).toThrow();

    // A revoked agent comes back: the data directory is the person's.
    hub.hub.registry.revoke(first.id);
    const restored = await registerByFile(hub.root, 'builder');
    expect(restored.id).toBe(first.id);
    expect(hub.hub.registry.get(first.id).revokedAt).toBeNull();
  });

  it('rejects a bad registration with an explanation, and registers the good one beside it', async () => {
    const hub = await startMailboxHub();
    const register = path.join(hub.root, '_register');
    drop(register, 'broken.json', '{"name": "x",');
    drop(register, 'bad-name.json', { name: 'no spaces allowed', project: 'test' });
    drop(register, 'extra.json', { name: 'ok-name', token: 'nope' });
    drop(register, 'good.json', { name: 'fine', project: 'test' });
    await until(() => existsSync(path.join(agentDir(hub.root, 'test', 'fine'), 'agent.json')), 5000, 'good registration');
    await until(() => listing(path.join(register, 'rejected')).length === 6, 5000, 'three rejections');
    await hub.mailbox.settled();

    const rejected = path.join(register, 'rejected');
    expect(listing(rejected)).toEqual(['bad-name.error.txt', 'bad-name.json', 'broken.error.txt', 'broken.json', 'extra.error.txt', 'extra.json']);
    expect(readFileSync(path.join(rejected, 'broken.error.txt'), 'utf8')).toMatch(/not valid JSON/);
    expect(readFileSync(path.join(rejected, 'bad-name.error.txt'), 'utf8')).toMatch(/name: use letters, digits/);
    expect(readFileSync(path.join(rejected, 'extra.error.txt'), 'utf8')).toMatch(/token/);
    expect(readFileSync(path.join(rejected, 'broken.json'), 'utf8')).toBe('{"name": "x",'); // moved untouched
    expect(listing(register)).toEqual(['rejected']);
    expect(hub.hub.registry.findByName('test', 'ok-name')).toBeUndefined();
    expect(hub.hub.registry.findByName('test', 'fine')).toBeDefined();
  });

  it('registers what was dropped while the hub was down', async () => {
    const hub = await startMailboxHub({ startMailbox: false });
    mkdirSync(path.join(hub.root, '_register'), { recursive: true });
    drop(path.join(hub.root, '_register'), 'early.json', { name: 'early-bird' });
    await hub.mailbox.start();
    expect(hub.hub.registry.findByName('default', 'early-bird')).toBeDefined();
    expect(existsSync(path.join(agentDir(hub.root, 'default', 'early-bird'), 'agent.json'))).toBe(true);
  });
});
