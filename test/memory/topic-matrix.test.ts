import { describe, expect, it } from 'vitest';
import { TopicMatrix } from '../../src/main/memory/graph/topic-matrix';
import { mulberry32 } from '../support/seeded-random';

const DIMENSION = 512;

interface TestTopic {
  name: number;
  sum: Float32Array;
  size: number;
}

/** Unit vectors around a few hundred subjects (cosine ~0.6 within one), like the encoder's. */
function generator(seed: number) {
  const random = mulberry32(seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const unit = (v: Float32Array) => {
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm);
    return v.map((x) => x / norm);
  };
  const subjects = Array.from({ length: 300 }, () => unit(Float32Array.from({ length: DIMENSION }, gaussian)));
  return {
    random,
    near: (subject: number) => {
      const base = subjects[subject % subjects.length]!;
      return unit(Float32Array.from({ length: DIMENSION }, (_, i) => base[i]! + 0.8 * gaussian() * (1 / Math.sqrt(DIMENSION)) * 1.2));
    },
  };
}

/** The float loop the matrix replaces: the highest dot(vector, sum) / size, ties to the earlier topic. */
function exactNearest(topics: TestTopic[], vector: Float32Array, except?: TestTopic): { topic: TestTopic; similarity: number } | undefined {
  let best: { topic: TestTopic; similarity: number } | undefined;
  for (const topic of topics) {
    if (topic === except) continue;
    let d = 0;
    for (let i = 0; i < DIMENSION; i++) d += vector[i]! * topic.sum[i]!;
    const similarity = topic.size > 0 ? d / topic.size : 0;
    if (!best || similarity > best.similarity) best = { topic, similarity };
  }
  return best;
}

describe('TopicMatrix (nearest topic by an int8 scan, rescored exactly)', () => {
  it('finds the same nearest topic and similarity as the float loop while topics grow, shrink, move rows and go', () => {
    const { random, near } = generator(7);
    const matrix = TopicMatrix.create<TestTopic>(DIMENSION);
    const topics: TestTopic[] = [];
    let checked = 0;
    let joined = 0;
    for (let step = 0; step < 3000; step++) {
      const vector = near(Math.floor(random() * 400));
      const except = topics.length > 0 && random() < 0.3 ? topics[Math.floor(random() * topics.length)] : undefined;
      const found = matrix.nearest(vector, except);
      const expected = exactNearest(topics, vector, except);
      expect(found?.topic.name).toBe(expected?.topic.name);
      if (expected) expect(found!.similarity).toBeCloseTo(expected.similarity, 5);
      // Asked for a topic at least as similar as a threshold: the same one if it is, none otherwise.
      const atLeast = 0.4 + random() * 0.3;
      expect(matrix.nearest(vector, except, atLeast)?.topic.name).toBe(expected && expected.similarity >= atLeast ? expected.topic.name : undefined);
      checked++;
      if (expected && expected.similarity >= 0.5) {
        // Joins it: the sum and size change in place, as Topics does.
        const topic = expected.topic;
        for (let i = 0; i < DIMENSION; i++) topic.sum[i]! += vector[i]!;
        topic.size++;
        matrix.changed(topic);
        joined++;
      } else {
        const topic = { name: step, sum: vector.slice(), size: 1 };
        topics.push(topic);
        matrix.add(topic);
      }
      if (topics.length > 20 && random() < 0.05) {
        // A topic goes (folded or emptied): the last row moves into its place.
        const gone = topics.splice(Math.floor(random() * topics.length), 1)[0]!;
        matrix.remove(gone);
      }
    }
    expect(checked).toBe(3000);
    expect(joined).toBeGreaterThan(1000);
    expect(matrix.size).toBe(topics.length);
    expect(topics.length).toBeGreaterThan(100);
  });

  it('finds the exact nearest among topics the int8 scores cannot tell apart (every row within the error bound is rescored)', () => {
    const { random, near } = generator(11);
    const base = near(5);
    const matrix = TopicMatrix.create<TestTopic>(DIMENSION);
    // 60 topics that differ from one centre by less than the int8 codes resolve: ranking them takes the exact scores.
    const topics = Array.from({ length: 60 }, (_, name) => {
      const sum = base.map((x) => x + (random() - 0.5) * 2e-5);
      const topic = { name, sum, size: 1 };
      matrix.add(topic);
      return topic;
    });
    for (let query = 0; query < 200; query++) {
      const vector = base.map((x) => x + (random() - 0.5) * 2e-3);
      const except = query % 3 === 0 ? topics[query % topics.length] : undefined;
      const found = matrix.nearest(vector, except);
      const expected = exactNearest(topics, vector, except)!;
      expect(found?.topic.name).toBe(expected.topic.name);
      expect(found!.similarity).toBeCloseTo(expected.similarity, 6);
    }
  });

  it('has no nearest topic when it is empty or holds only the one left out', () => {
    const { near } = generator(3);
    const matrix = TopicMatrix.create<TestTopic>(DIMENSION);
    expect(matrix.nearest(near(1))).toBeUndefined();
    const only = { name: 1, sum: near(1), size: 1 };
    matrix.add(only);
    expect(matrix.nearest(near(1), only)).toBeUndefined();
    expect(matrix.nearest(near(1))?.topic).toBe(only);
    matrix.clear();
    expect(matrix.nearest(near(1))).toBeUndefined();
  });
});
