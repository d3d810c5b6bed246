// The vector index's build policy (src/main/vector/tuning.ts): when a background build starts, what it builds, and
// the IVF layout it picks. Pure functions; the builds themselves are tested in vector-index.test.ts.
import { describe, expect, it } from 'vitest';
import { DEFAULT_TUNING, buildReason, buildTarget, ivfShape, resolveTuning } from '../../src/main/vector/tuning';

const t = DEFAULT_TUNING;

describe('resolveTuning', () => {
  it('is the defaults when nothing is given', () => {
    expect(resolveTuning(undefined)).toEqual(DEFAULT_TUNING);
  });

  it('follows a given ivfThreshold with flatBelow at half of it, unless flatBelow is given too', () => {
    expect(resolveTuning({ ivfThreshold: 1000 }).flatBelow).toBe(500);
    expect(resolveTuning({ ivfThreshold: 1000, flatBelow: 100 }).flatBelow).toBe(100);
    expect(resolveTuning({ nlistFactor: 4 })).toEqual({ ...DEFAULT_TUNING, nlistFactor: 4 });
  });
});

describe('buildReason', () => {
  const index = { isIvf: false, live: 100, builtLive: 0, dead: 0, positions: 100 };

  it('grows a flat index into IVF at ivfThreshold live vectors', () => {
    expect(buildReason(t, { ...index, live: t.ivfThreshold - 1, positions: t.ivfThreshold - 1 })).toBeNull();
    expect(buildReason(t, { ...index, live: t.ivfThreshold, positions: t.ivfThreshold })).toBe('grow');
  });

  it('shrinks an IVF index back to flat below flatBelow, and retrains it once it has doubled', () => {
    const ivf = { isIvf: true, live: 30_000, builtLive: 30_000, dead: 0, positions: 30_000 };
    expect(buildReason(t, ivf)).toBeNull();
    expect(buildReason(t, { ...ivf, live: t.flatBelow - 1 })).toBe('shrink');
    expect(buildReason(t, { ...ivf, live: 60_000, positions: 60_000 })).toBe('regrow');
  });

  it('compacts when tombstones pass both compactRatio and minCompactDead', () => {
    expect(buildReason(t, { ...index, dead: 999, positions: 2000 })).toBeNull();
    expect(buildReason(t, { ...index, dead: 1000, positions: 100_000 })).toBeNull();
    expect(buildReason(t, { ...index, dead: 1000, positions: 6000 })).toBe('compact');
  });
});

describe('buildTarget', () => {
  it('builds IVF from ivfThreshold, keeps IVF down to flatBelow, and never IVF under 64 vectors', () => {
    expect(buildTarget(t, false, t.ivfThreshold - 1)).toBe('flat');
    expect(buildTarget(t, false, t.ivfThreshold)).toBe('ivf');
    expect(buildTarget(t, true, t.flatBelow)).toBe('ivf');
    expect(buildTarget(t, true, t.flatBelow - 1)).toBe('flat');
    expect(buildTarget({ ...t, ivfThreshold: 10, flatBelow: 5 }, false, 63)).toBe('flat');
  });
});

describe('ivfShape', () => {
  it('takes nlist ≈ nlistFactor × √n, a flat coarse quantizer below hnswQuantizerFrom, and trains on 32 points a list', () => {
    expect(ivfShape(t, 100_000)).toEqual({ nlist: 632, description: 'IVF632,Flat', trainPoints: 632 * 32 });
  });

  it('switches to an HNSW coarse quantizer for large nlist, and caps the training sample', () => {
    const shape = ivfShape(t, 2_000_000);
    expect(shape.nlist).toBe(2828);
    expect(shape.description).toBe('IVF2828_HNSW32,Flat');
    expect(shape.trainPoints).toBe(2828 * 32);
    const huge = ivfShape(t, 10_000_000);
    expect(huge.nlist).toBe(6325);
    expect(huge.trainPoints).toBe(t.maxTrainPoints);
  });

  it('keeps at least 8 vectors a list on small sets, and at least 4 lists', () => {
    expect(ivfShape(t, 200).nlist).toBe(25);
    expect(ivfShape(t, 16).nlist).toBe(4);
  });
});
