// Large store groups are taken while the group before them is still embedding, so the encoder goes from one group to
// the next without waiting for the commit between them; outcomes are those of storing the groups one after another
// (real encoder, SQLite, FAISS; the encoder is wrapped only to record when each call starts and ends).
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { ensureDefaultEncoder, OnnxSentenceEncoder, type SentenceEncoder } from '../../src/main/embedding';
import { MemoryStore, type ParsedMemoryInput } from '../../src/main/memory/store';
import { resourcesDir } from '../embedding/helpers';
import { tempDir } from '../helpers';

const fact = (text: string): ParsedMemoryInput => ({ text, kind: 'fact', tags: [], metadata: {}, shared: false });
const shop = { project: 'shop', agent: null };
const services = ['billing', 'search', 'checkout', 'catalog', 'auth', 'mailer', 'reports', 'uploads', 'payments', 'images'];
/** Distinct notes: each service's queue, port, owner and timeout. */
function notes(from: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const n = from + i;
    const service = services[n % services.length]!;
    return [
      `The ${service} service reads jobs from the queue named ${service}-jobs-${n}.`,
      `Port ${4000 + n} is where the ${service} worker number ${n} listens for health checks.`,
      `Team ${String.fromCharCode(65 + (n % 26))}${n} owns deployment ring ${n} of ${service}.`,
      `Requests to ${service} shard ${n} time out after ${n + 3} seconds of silence.`,
    ][n % 4]!;
  });
}

describe('store pipeline', () => {
  let encoder: OnnxSentenceEncoder;
  beforeAll(async () => {
    encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(resourcesDir), { threads: 1 });
  }, 60_000);
  afterAll(async () => {
    await encoder?.close();
  });

  async function openStore(): Promise<{ store: MemoryStore; calls: Array<{ texts: string[]; started: number; ended: number }> }> {
    const calls: Array<{ texts: string[]; started: number; ended: number }> = [];
    const recording: SentenceEncoder = {
      id: encoder.id,
      dimension: encoder.dimension,
      embed: async (texts, options) => {
        const call = { texts: [...texts], started: performance.now(), ended: Infinity };
        calls.push(call);
        const vectors = await encoder.embed(texts, options);
        call.ended = performance.now();
        return vectors;
      },
      close: () => Promise.resolve(),
    };
    const store = await MemoryStore.open({ dataDir: tempDir(), encoder: recording, halfLifeDays: 30, dedupeSimilarity: 0.95 });
    onTestFinished(() => store.close());
    return { store, calls };
  }

  it('hands a large group to the encoder before the group ahead of it is embedded, a text of both embedded once', async () => {
    const shared = 'Release builds are signed with the key kept in the hardware token of the build room.';
    const first = [...notes(0, 79), shared];
    const second = [...notes(80, 79), shared];
    const { store, calls } = await openStore();
    const [one, two] = await Promise.all([store.store(first.map(fact), shop), store.store(second.map(fact), shop)]);

    expect(calls).toHaveLength(2);
    expect(calls[1]!.started).toBeLessThan(calls[0]!.ended);
    expect(calls[1]!.texts).not.toContain(shared);
    expect(calls.flatMap((call) => call.texts).filter((text) => text === shared)).toHaveLength(1);
    // The first group committed before the second was compared: its copy of the shared text reinforces.
    expect(one!.every((stored) => stored.outcome !== 'reinforced')).toBe(true);
    expect(two!.at(-1)).toMatchObject({ outcome: 'reinforced', memory: { id: one!.at(-1)!.memory.id } });
    expect(store.size()).toBe(one!.filter((s) => s.outcome !== 'reinforced').length + two!.filter((s) => s.outcome !== 'reinforced').length);
  });

  it('gives the same outcomes as storing the groups one after another', async () => {
    const groups = [notes(0, 100), notes(60, 100), notes(140, 100)];
    const sequential = await openStore();
    const inTurn: string[] = [];
    for (const group of groups) inTurn.push(...(await sequential.store.store(group.map(fact), shop)).map((s) => `${s.outcome} ${s.memory.text}`));

    const pipelined = await openStore();
    const together = (await Promise.all(groups.map((group) => pipelined.store.store(group.map(fact), shop)))).flat().map((s) => `${s.outcome} ${s.memory.text}`);
    expect(pipelined.calls[1]!.started).toBeLessThan(pipelined.calls[0]!.ended);
    expect(together).toEqual(inTurn);
    expect(together.filter((line) => line.startsWith('reinforced')).length).toBeGreaterThanOrEqual(40);
  });
});
