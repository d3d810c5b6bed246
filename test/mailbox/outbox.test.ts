/** The file mailbox end to end: outbox files become messages in the recipients' inboxes. */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/shared/agent-protocol';
import { openSocket } from '../hub/harness';
import { agentDir, drop, inboxFiles, listing, readInbox, registerByFile, sleep, startMailboxHub, until } from './harness';

describe('outbox to inbox', () => {
  it('sends an outbox file to a mailbox agent (inbox file) and to a non-mailbox agent (its inbox in SQLite)', async () => {
    const hub = await startMailboxHub();
    const alice = await registerByFile(hub.root, 'alice');
    const bob = await registerByFile(hub.root, 'bob');
    const carol = await hub.register('carol'); // HTTP only: no mailbox folder
    const aliceDir = agentDir(hub.root, 'test', 'alice');
    const bobDir = agentDir(hub.root, 'test', 'bob');

    drop(path.join(aliceDir, 'outbox'), 'hello-bob.json', { to: 'bob', subject: 'hi', body: 'hello bob', importance: 'high' });
    drop(path.join(aliceDir, 'outbox'), 'hello-carol.json', { to: 'carol', body: { kind: 'json', n: 1 } });
    await until(() => inboxFiles(bobDir).length === 1, 5000, "bob's inbox file");
    await until(() => hub.hub.messaging.store.inbox(carol.agent.id, 0, 10).length === 1, 5000, "carol's message");
    await hub.mailbox.settled();

    const [message] = readInbox(bobDir);
    expect(message).toMatchObject({ from: alice.id, to: { type: 'agent', id: bob.id }, subject: 'hi', body: 'hello bob', contentType: 'text', importance: 'high' });
    expect(inboxFiles(bobDir)).toEqual([`${message!.id}.json`]);
    expect(readFileSync(path.join(bobDir, 'inbox', `${message!.id}.json`), 'utf8')).toContain('\n  "body": "hello bob"'); // readable
    expect(message).not.toHaveProperty('seq');
    // Written and acknowledged: nothing left unread in the hub, no temporaries, the outbox empty.
    expect(hub.hub.messaging.store.inbox(bob.id, 0, 10, 'unacked')).toEqual([]);
    expect(listing(path.join(bobDir, 'inbox'))).toEqual([`${message!.id}.json`]);
    expect(listing(path.join(aliceDir, 'outbox'))).toEqual(['.sending']);
    expect(listing(path.join(aliceDir, 'outbox', '.sending'))).toEqual([]);

    // carol has no folder: her message waits in the hub, unacknowledged, for the API or the socket.
    const [toCarol] = hub.hub.messaging.store.inbox(carol.agent.id, 0, 10, 'unacked');
    expect(toCarol).toMatchObject({ from: alice.id, body: { kind: 'json', n: 1 }, contentType: 'json' });
    expect(existsSync(agentDir(hub.root, 'test', 'carol'))).toBe(false);
    const viaHttp = await hub.api(`/agents/${carol.agent.id}/messages`, { token: carol.token });
    expect(viaHttp.body.messages.map((m: Message) => m.body)).toEqual([{ kind: 'json', n: 1 }]);
  });

  it('understands every form of "to"', async () => {
    const hub = await startMailboxHub();
    const me = await registerByFile(hub.root, 'me', 'alpha');
    const mate = await registerByFile(hub.root, 'mate', 'alpha');
    const far = await registerByFile(hub.root, 'far', 'org/beta');
    const listener = await hub.register('listener', 'gamma'); // not a mailbox agent
    hub.hub.messaging.store.subscribe(listener.agent.id, ['builds']);
    hub.hub.messaging.store.subscribe(far.id, ['builds']);
    const outbox = path.join(agentDir(hub.root, 'alpha', 'me'), 'outbox');
    const mateDir = agentDir(hub.root, 'alpha', 'mate');
    const farDir = agentDir(hub.root, 'org/beta', 'far');

    drop(outbox, '1.json', { to: 'mate', body: 'by name' });
    drop(outbox, '2.json', { to: 'org/beta/far', body: 'by project/name' });
    drop(outbox, '3.json', { to: mate.id, body: 'by id' });
    drop(outbox, '4.json', { to: '#builds', body: 'by topic' });
    drop(outbox, '5.json', { to: '*', body: 'to everyone' });
    drop(outbox, '6.json', { to: { type: 'agent', id: far.id }, body: 'by object' });
    await until(() => inboxFiles(mateDir).length === 3 && inboxFiles(farDir).length === 4, 5000, 'all deliveries');
    await hub.mailbox.settled();

    expect(readInbox(mateDir).map((m) => m.body)).toEqual(['by name', 'by id', 'to everyone']);
    expect(readInbox(farDir).map((m) => m.body)).toEqual(['by project/name', 'by topic', 'to everyone', 'by object']);
    expect(readInbox(farDir).map((m) => m.to)).toEqual([
      { type: 'agent', id: far.id },
      { type: 'topic', name: 'builds' },
      { type: 'broadcast' },
      { type: 'agent', id: far.id },
    ]);
    expect(hub.hub.messaging.store.inbox(listener.agent.id, 0, 10).map((m) => m.body)).toEqual(['by topic', 'to everyone']);
    // The sender is not in its own broadcast.
    expect(inboxFiles(agentDir(hub.root, 'alpha', 'me'))).toEqual([]);
    expect(hub.hub.messaging.store.inbox(me.id, 0, 10, 'all')).toEqual([]);
    expect(listing(path.join(agentDir(hub.root, 'alpha', 'me'), 'rejected'))).toEqual([]);
  });

  it('rejects malformed files with an explanation and leaves everything else alone', async () => {
    const hub = await startMailboxHub({ maxBytes: 4096 });
    await registerByFile(hub.root, 'sender');
    const receiver = await registerByFile(hub.root, 'receiver');
    const dir = agentDir(hub.root, 'test', 'sender');
    const outbox = path.join(dir, 'outbox');
    const rejected = path.join(dir, 'rejected');
    const receiverDir = agentDir(hub.root, 'test', 'receiver');

    writeFileSync(path.join(outbox, 'partial.json.tmp'), '{"to": "rec'); // a message being written: not touched
    writeFileSync(path.join(outbox, '.hidden.json'), '{}');
    writeFileSync(path.join(outbox, 'notes.txt'), 'not a message');
    drop(outbox, 'a-good.json', { to: 'receiver', body: 'first' });
    drop(outbox, 'b-bad-json.json', '{"to": "receiver", body: oops}');
    drop(outbox, 'c-not-object.json', '["to", "receiver"]');
    drop(outbox, 'd-no-to.json', { body: 'to whom?' });
    drop(outbox, 'e-unknown.json', { to: 'nobody', body: 'lost' });
    drop(outbox, 'f-unknown-id.json', { to: '01ARZ3NDEKTSV4RRFFQ69G5FAV', body: 'lost' });
    drop(outbox, 'g-extra-field.json', { to: 'receiver', body: 'x', colour: 'red' });
    drop(outbox, 'h-too-large.json', { to: 'receiver', body: 'x'.repeat(5000) });
    drop(outbox, 'i-bad-topic.json', { to: '#no spaces', body: 'x' });
    drop(outbox, 'j-bad-reply.json', { to: 'receiver', body: 'x', replyTo: '01ARZ3NDEKTSV4RRFFQ69G5FAV' });
    drop(outbox, 'k-good.json', { to: 'receiver', body: 'last' });

    // The JSON syntax error is given a moment in case the file is still being written; then it is rejected too.
    await until(() => listing(rejected).length === 18, 10_000, 'nine rejections');
    await until(() => inboxFiles(receiverDir).length === 2, 5000, 'the good ones');
    await hub.mailbox.settled();

    expect(readInbox(receiverDir).map((m) => m.body)).toEqual(['first', 'last']);
    expect(listing(outbox)).toEqual(['.hidden.json', '.sending', 'notes.txt', 'partial.json.tmp']);
    const why = (name: string) => readFileSync(path.join(rejected, `${name}.error.txt`), 'utf8');
    expect(why('b-bad-json')).toMatch(/not valid JSON/);
    expect(why('c-not-object')).toMatch(/one JSON object/);
    expect(why('d-no-to')).toMatch(/no "to"/);
    expect(why('e-unknown')).toMatch(/no agent named "nobody" in project "test" \(agents there: receiver, sender\)/);
    expect(why('f-unknown-id')).toMatch(/no agent with id 01ARZ3NDEKTSV4RRFFQ69G5FAV/);
    expect(why('g-extra-field')).toMatch(/colour/);
    expect(why('h-too-large')).toMatch(/5\d{3} bytes.*up to 4096/);
    expect(why('i-bad-topic')).toMatch(/not a topic name/);
    expect(why('j-bad-reply')).toMatch(/replyTo names no message/);
    for (const name of ['b-bad-json', 'e-unknown', 'h-too-large']) {
      expect(why(name)).toMatch(/Nothing was sent. Fix the file and move it back into outbox\//);
    }
    expect(readFileSync(path.join(rejected, 'b-bad-json.json'), 'utf8')).toBe('{"to": "receiver", body: oops}');
    expect(hub.hub.messaging.store.inbox(receiver.id, 0, 100, 'all')).toHaveLength(2);

    // Rejected again under the same name: the earlier rejected file stays, the new one is numbered.
    drop(outbox, 'e-unknown.json', { to: 'nobody-else', body: 'lost' });
    await until(() => existsSync(path.join(rejected, 'e-unknown.2.json')), 5000, 'second rejection');
    expect(readFileSync(path.join(rejected, 'e-unknown.2.error.txt'), 'utf8')).toMatch(/nobody-else/);

    // Fixed and moved back, a rejected file is sent.
    drop(outbox, 'e-unknown.json', { to: 'receiver', body: 'fixed' });
    await until(() => inboxFiles(receiverDir).length === 3, 5000, 'the fixed one');
  });

  it('gives a file written in place (not renamed in) a moment to be complete', async () => {
    const hub = await startMailboxHub();
    await registerByFile(hub.root, 'slow');
    await registerByFile(hub.root, 'peer');
    const fd = openSync(path.join(agentDir(hub.root, 'test', 'slow'), 'outbox', 'direct.json'), 'w');
    writeSync(fd, '{"to": "peer", ');
    await sleep(300); // the hub has seen the half-written file by now
    writeSync(fd, '"body": "written slowly"}');
    closeSync(fd);
    await until(() => inboxFiles(agentDir(hub.root, 'test', 'peer')).length === 1, 5000, 'delivery');
    expect(readInbox(agentDir(hub.root, 'test', 'peer'))[0]!.body).toBe('written slowly');
    expect(listing(path.join(agentDir(hub.root, 'test', 'slow'), 'rejected'))).toEqual([]);
  });

  it('takes a file with the name and content of one already sent for a retry, and says so', async () => {
    const hub = await startMailboxHub();
    await registerByFile(hub.root, 'pinger');
    const peer = await registerByFile(hub.root, 'peer');
    const outbox = path.join(agentDir(hub.root, 'test', 'pinger'), 'outbox');
    drop(outbox, 'ping.json', { to: 'peer', body: 'ping' });
    await until(() => inboxFiles(agentDir(hub.root, 'test', 'peer')).length === 1, 5000, 'first ping');
    drop(outbox, 'ping.json', { to: 'peer', body: 'ping' });
    await until(() => hub.logs.some((line) => line.includes('not sent again')), 5000, 'the warning');
    drop(outbox, 'ping-2.json', { to: 'peer', body: 'ping' }); // a new name is a new message
    await until(() => inboxFiles(agentDir(hub.root, 'test', 'peer')).length === 2, 5000, 'second ping');
    await hub.mailbox.settled();
    expect(hub.hub.messaging.store.inbox(peer.id, 0, 10, 'all')).toHaveLength(2);
    expect(hub.logs.join('\n')).toMatch(/outbox\/ping\.json: not sent again, it repeats message [0-9A-Z]{26}.*give each message a new file name/);
  });

  it('keeps a delivery it cannot write unacknowledged, and writes it once it can', async () => {
    const hub = await startMailboxHub();
    await registerByFile(hub.root, 'sender');
    const receiver = await registerByFile(hub.root, 'receiver');
    const inbox = path.join(agentDir(hub.root, 'test', 'receiver'), 'inbox');
    rmSync(inbox, { recursive: true });
    writeFileSync(inbox, 'in the way'); // a file where the inbox folder should be: every write fails
    drop(path.join(agentDir(hub.root, 'test', 'sender'), 'outbox'), 'm.json', { to: 'receiver', body: 'eventually' });
    await until(() => hub.logs.some((line) => line.includes('test/receiver inbox:')), 5000, 'the failure');
    expect(hub.hub.messaging.store.inbox(receiver.id, 0, 10, 'unacked').map((m) => m.body)).toEqual(['eventually']);
    rmSync(inbox);
    mkdirSync(inbox);
    await until(() => inboxFiles(agentDir(hub.root, 'test', 'receiver')).length === 1, 10_000, 'the retry');
    expect(listing(inbox)).toHaveLength(1);
    expect(hub.hub.messaging.store.inbox(receiver.id, 0, 10, 'unacked')).toEqual([]);
  });

  it('does not let a revoked agent send', async () => {
    const hub = await startMailboxHub();
    const gone = await registerByFile(hub.root, 'gone');
    await registerByFile(hub.root, 'peer');
    hub.hub.registry.revoke(gone.id);
    const dir = agentDir(hub.root, 'test', 'gone');
    drop(path.join(dir, 'outbox'), 'm.json', { to: 'peer', body: 'still here?' });
    await until(() => existsSync(path.join(dir, 'rejected', 'm.error.txt')), 5000, 'rejection');
    expect(readFileSync(path.join(dir, 'rejected', 'm.error.txt'), 'utf8')).toMatch(/revoked from the cockpit/);
    expect(inboxFiles(agentDir(hub.root, 'test', 'peer'))).toEqual([]);
  });

  it('delivers messages from HTTP and socket agents into a mailbox agent\'s inbox folder, and back', async () => {
    const hub = await startMailboxHub();
    const files = await registerByFile(hub.root, 'files');
    const filesDir = agentDir(hub.root, 'test', 'files');
    const http = await hub.register('http-agent');
    const live = await hub.register('socket-agent');
    const socket = await openSocket(hub.url, live.agent.id, live.token);

    const sent = await hub.api('/messages', { token: http.token, body: { to: { type: 'agent', id: files.id }, body: 'over HTTP' } });
    expect(sent.status).toBe(201);
    socket.send({ type: 'send', ref: 'r1', message: { to: { type: 'agent', id: files.id }, body: 'over the socket', subject: 'live' } });
    await socket.next((frame) => frame.type === 'sent');
    await until(() => inboxFiles(filesDir).length === 2, 5000, 'two inbox files');
    expect(readInbox(filesDir).map((m) => [m.from, m.body])).toEqual([
      [http.agent.id, 'over HTTP'],
      [live.agent.id, 'over the socket'],
    ]);

    // And a reply from the file agent reaches the socket agent live.
    const original = readInbox(filesDir)[1]!;
    drop(path.join(filesDir, 'outbox'), 'reply.json', { to: 'socket-agent', body: 'got it', replyTo: original.id });
    const frame = await socket.next((f) => f.type === 'message');
    expect(frame).toMatchObject({ type: 'message', message: { from: files.id, body: 'got it', replyTo: original.id, threadId: original.threadId } });
    socket.ws.close();
  });

  it('opts an agent in when its folder appears: what waited in the hub is written, then new messages', async () => {
    const hub = await startMailboxHub();
    const late = await hub.register('late', 'web app');
    const sender = await hub.register('sender', 'web app');
    for (const body of ['one', 'two']) {
      await hub.api('/messages', { token: sender.token, body: { to: { type: 'agent', id: late.agent.id }, body } });
    }
    const dir = agentDir(hub.root, 'web app', 'late');
    expect(path.basename(path.dirname(dir))).toBe('web%20app');
    mkdirSync(dir, { recursive: true });
    await until(() => inboxFiles(dir).length === 2, 5000, 'backlog written');
    expect(listing(dir)).toEqual(['answers', 'inbox', 'outbox', 'rejected', 'requests']);
    await hub.api('/messages', { token: sender.token, body: { to: { type: 'agent', id: late.agent.id }, body: 'three' } });
    await until(() => inboxFiles(dir).length === 3, 5000, 'live message written');
    expect(readInbox(dir).map((m) => m.body)).toEqual(['one', 'two', 'three']);
    expect(hub.hub.messaging.store.inbox(late.agent.id, 0, 10, 'unacked')).toEqual([]);

    // An outbox file waits for its agent to register; then it is sent.
    const early = agentDir(hub.root, 'web app', 'early');
    mkdirSync(path.join(early, 'outbox'), { recursive: true });
    drop(path.join(early, 'outbox'), 'hi.json', { to: 'late', body: 'before registering' });
    await sleep(300);
    expect(readdirSync(path.join(early, 'outbox'))).toEqual(['hi.json']);
    expect(hub.logs.join('\n')).toMatch(/no agent named early is registered in project web app/);
    await hub.register('early', 'web app');
    await until(() => inboxFiles(dir).length === 4, 5000, 'message from the newly registered agent');

    // A folder not spelled the way the hub spells the project is pointed out.
    mkdirSync(path.join(hub.root, 'web app', 'late'), { recursive: true });
    await hub.restartMailbox();
    expect(hub.logs.join('\n')).toMatch(/mailbox\/web app is not a project folder: .* e\.g\. web%20app/);

    // Removing the folder opts out: messages stay in the hub.
    rmSync(dir, { recursive: true });
    await sleep(300);
    await hub.api('/messages', { token: sender.token, body: { to: { type: 'agent', id: late.agent.id }, body: 'four' } });
    await sleep(300);
    expect(existsSync(dir)).toBe(false);
    expect(hub.hub.messaging.store.inbox(late.agent.id, 0, 10, 'unacked').map((m) => m.body)).toEqual(['four']);
  });
});
