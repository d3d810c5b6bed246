// A lone short call (one text, nothing else queued or running: a single store, a search's query on a quiet hub) runs
// on the calling thread instead of going through an inference worker; anything else still goes to the workers, and
// the vector is the same either way. Real encoder, real workers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDefaultEncoder, OnnxSentenceEncoder } from '../../src/main/embedding';
import { HERE_MAX_TOKENS } from '../../src/main/embedding/encoder';
import { maxAbsDiff, resourcesDir } from './helpers';

let encoder: OnnxSentenceEncoder;

beforeAll(async () => {
  encoder = await OnnxSentenceEncoder.load(await ensureDefaultEncoder(resourcesDir), { threads: 2 });
}, 60_000);

afterAll(async () => {
  await encoder?.close();
});

const note = 'The staging database listens on port 5433 since the migration on Tuesday.';

describe('lone calls on the calling thread', () => {
  it('runs a lone short call here, and gives the vector a worker gives', async () => {
    const before = encoder.ranHere;
    const [here] = await encoder.embed([note]);
    expect(encoder.ranHere).toBe(before + 1);

    // The same text while another call is under way (two texts: to the workers) goes to a worker, alone in its
    // batch there too.
    const busy = encoder.embed(['something else under way', 'and one more']);
    const [inWorker] = await encoder.embed([note]);
    await busy;
    expect(encoder.ranHere).toBe(before + 1);
    expect(maxAbsDiff(here!, inWorker!)).toBeLessThan(1e-5);
  });

  it('sends a call of several texts, and a long text, to the workers', async () => {
    const before = encoder.ranHere;
    await encoder.embed([note, 'Another note about the build cache.']);
    const long = Array.from({ length: HERE_MAX_TOKENS * 2 }, (_, i) => `word${i % 50}`).join(' ');
    expect(encoder.tokenize(long).length).toBeGreaterThan(HERE_MAX_TOKENS);
    await encoder.embed([long]);
    expect(encoder.ranHere).toBe(before);
  });

  it('runs an urgent lone query here too, and closing waits for it', async () => {
    const before = encoder.ranHere;
    const [query] = await encoder.embed(['who owns the billing database?'], { urgent: true });
    expect(encoder.ranHere).toBe(before + 1);
    expect(query).toHaveLength(encoder.dimension);
  });
});
