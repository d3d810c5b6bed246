/**
 * A hub with its file mailbox, as a process of its own, for the kill -9 test:
 * `node --import tsx test/mailbox/hub-process.ts <dataDir>`. Prints "mailbox ready" once the backlog is done.
 */
import { createApp } from '../../src/main/app';
import { defaultConfig } from '../../src/main/config/config';
import { FileMailbox } from '../../src/main/mailbox';

const dataDir = process.argv[2];
if (!dataDir) throw new Error('usage: hub-process.ts <dataDir>');
const app = createApp({ dataDir, runtime: 'headless', config: { ...defaultConfig(), api: { host: '127.0.0.1', port: 0 } }, rendererDir: null });
await app.start();
// Once app.ts starts a mailbox of its own, it is closed here, so exactly one mailbox runs, the one under test.
await (app.hub() as Partial<{ mailbox: FileMailbox }>).mailbox?.close();
const { registry, messaging, reservations, tasks } = app.hub();
const mailbox = new FileMailbox({ dataDir, registry, messaging, reservations, tasks, log: (line) => console.error(line) });
console.log('mailbox starting');
await mailbox.start();
console.log('mailbox ready');
