/**
 * A body over the size limit is answered with 413 and its JSON error, and every client reads it: Node's fetch
 * (which writes the whole body first), curl (which waits for 100 Continue and so sends nothing), and Python's
 * http.client. A body that keeps coming far past the limit has its connection closed: nothing is kept meanwhile.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers';
import { startHub } from './harness';

const run = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;

/** The paths that take JSON bodies through each parser: a send route (the hub's own) and the others (Fastify's). */
function targets(recipient: string): string[] {
  return [`/api/v1/agents/${recipient}/messages`, '/api/v1/messages', '/api/v1/agents/register', '/api/v1/memory/store'];
}

describe('bodies over the size limit', () => {
  it('answers Node fetch with the 413 and its JSON error, on every route and every try', { timeout: 120_000 }, async () => {
    // The default limit (10 MiB): a body over it, within twice it, is larger than the sockets' buffers.
    const hub = await startHub();
    const a = await hub.register('a');
    const b = await hub.register('b');
    // fetch in a process of its own, as an agent would be: it writes while the hub answers.
    const script = [
      'const [url, token, ...paths] = process.argv.slice(1);',
      "const body = Buffer.from(JSON.stringify({ to: { type: 'broadcast' }, body: 'x'.repeat(16 * 1024 * 1024) }));",
      "const headers = { 'content-type': 'application/json', authorization: `Bearer ${token}` };",
      'const results = [];',
      'for (let attempt = 0; attempt < 2; attempt++) {',
      '  for (const path of paths) {',
      '    for (const chunked of [false, true]) {',
      "      const init = chunked ? { method: 'POST', headers, body: new Blob([body]).stream(), duplex: 'half' } : { method: 'POST', headers, body };",
      '      try {',
      '        const response = await fetch(url + path, init);',
      '        results.push(`${response.status} ${(await response.json()).code}`);',
      '      } catch (error) {',
      '        results.push(`${error.message}: ${error.cause?.message}`);',
      '      }',
      '    }',
      '  }',
      '}',
      'console.log(JSON.stringify(results));',
    ].join('\n');
    const paths = targets(b.agent.id);
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script, hub.url, a.token, ...paths], { maxBuffer: 1024 * 1024 });
    expect(JSON.parse(stdout)).toEqual(Array.from({ length: 2 * paths.length * 2 }, () => '413 too_large'));
    // The hub is as it was.
    expect((await hub.api(`/agents/${b.agent.id}/messages`, { token: a.token, body: { body: 'fits' } })).status).toBe(201);
  });

  it('answers curl before it sends the body, and Python as Node', { timeout: 60_000 }, async () => {
    const hub = await startHub({ maxBytes: 64 * KiB });
    const a = await hub.register('a');
    const b = await hub.register('b');
    const file = path.join(tempDir(), 'large.json');
    writeFileSync(file, JSON.stringify({ body: 'x'.repeat(3 * MiB) }));
    const url = `${hub.url}/api/v1/agents/${b.agent.id}/messages`;

    const curl = await run('curl', ['-sS', '-H', 'content-type: application/json', '-H', `authorization: Bearer ${a.token}`, '-H', 'Expect: 100-continue',
      '--data-binary', `@${file}`, '-w', '\n%{http_code} %{size_upload}', url]);
    const [json, status] = curl.stdout.split('\n');
    expect(JSON.parse(json!)).toMatchObject({ code: 'too_large' });
    // 413, and the body never went out: the answer came before 100 Continue.
    expect(status).toBe('413 0');

    const python = [
      'import http.client, json, sys, urllib.parse',
      'u = urllib.parse.urlsplit(sys.argv[1])',
      'c = http.client.HTTPConnection(u.hostname, u.port)',
      "c.request('POST', u.path, body=open(sys.argv[3], 'rb').read(), headers={'content-type': 'application/json', 'authorization': 'Bearer ' + sys.argv[2]})",
      'r = c.getresponse()',
      "print(r.status, json.loads(r.read())['code'])",
    ].join('\n');
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = await run('python3', ['-c', python, url, a.token, file]);
      expect(answer.stdout.trim()).toBe('413 too_large');
    }
  });

  it('closes the connection of a body that keeps coming far past the limit', { timeout: 60_000 }, async () => {
    const hub = await startHub({ maxBytes: 64 * KiB });
    const a = await hub.register('a');
    const { port } = new URL(hub.url);
    const socket = net.connect(Number(port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.write(`POST /api/v1/messages HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${a.token}\r\nContent-Length: ${1024 * MiB}\r\n\r\n`);
    // Far more than twice the limit, written as fast as the hub takes it: it must stop taking it and answer.
    const chunk = Buffer.alloc(256 * KiB, 'x');
    let written = 0;
    while (!socket.destroyed && written < 64 * MiB) {
      if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve).once('close', resolve));
      written += chunk.length;
    }
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('"code":"too_large"');
    expect(written).toBeLessThan(64 * MiB);
  });
});
