/**
 * The Cluster view's traffic matrix from the hubs' own announcements: each hub speaks for its side of a pair (what
 * it sent, what it received), and rates come from consecutive refreshes without going negative after a restart.
 */
import { describe, expect, it } from 'vitest';
import type { ClusterHub, HubTraffic } from '../../src/shared/cluster-protocol';
import { ratePoints, trafficPairs } from '../../src/renderer/src/views/cluster/traffic';

function hub(id: string, name: string, traffic?: HubTraffic[]): ClusterHub {
  return { id, name, apiUrl: null, startedAt: '', seenAt: '', connectedAgents: 0, alive: true, ...(traffic ? { traffic } : {}) };
}

describe('cross-hub traffic', () => {
  it("puts each pair together from the sender's and the receiver's reports", () => {
    const pairs = trafficPairs([
      hub('A', 'laptop', [
        { from: 'A', to: 'B', messages: 120, bytes: 9_000 },
        { from: 'B', to: 'A', messages: 7, bytes: 500 },
        { from: 'A', to: 'C', messages: 3, bytes: 90 },
      ]),
      hub('B', 'build-1', [
        { from: 'B', to: 'A', messages: 8, bytes: 560 },
        { from: 'A', to: 'B', messages: 118, bytes: 8_900 },
      ]),
      // An earlier version: reports nothing; its side stays unknown.
      hub('C', 'older'),
    ]);
    expect(pairs.map((pair) => [pair.label, pair.sent, pair.received, pair.sentBytes])).toEqual([
      ['laptop → build-1', 120, 118, 9_000],
      ['build-1 → laptop', 8, 7, 560],
      ['laptop → older', 3, null, 90],
    ]);
  });

  it('ignores what a hub says about the other side of a pair, and names unknown hubs by id', () => {
    const pairs = trafficPairs([hub('A', 'laptop', [{ from: 'X', to: 'Y', messages: 99, bytes: 1 }, { from: 'Z', to: 'A', messages: 4, bytes: 40 }])]);
    expect(pairs.map((pair) => [pair.label, pair.sent, pair.received])).toEqual([['Z → laptop', null, 4]]);
  });

  it('turns consecutive counts into messages per second, with no point for a count that went down', () => {
    const samples = [
      { t: 0, counts: new Map([['A>B', 10], ['B>A', 50]]) },
      { t: 2_000, counts: new Map([['A>B', 30], ['B>A', 2]]) },
      { t: 4_000, counts: new Map([['A>B', 31], ['B>A', 6]]) },
    ];
    expect(ratePoints(samples, ['A>B', 'B>A', 'C>A'])).toEqual([
      { t: 2_000, 'A>B': 10, 'B>A': null, 'C>A': null },
      { t: 4_000, 'A>B': 0.5, 'B>A': 2, 'C>A': null },
    ]);
  });
});
