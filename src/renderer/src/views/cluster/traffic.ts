/**
 * Cross-hub traffic as the Cluster view draws it. Each hub announces what it sent to and received from the others;
 * put together, every cockpit has the whole matrix: for each pair of hubs, what the sender says it sent and what
 * the receiver says it received (the two differ by what is on its way, or by a restart of either).
 */
import type { ClusterHub } from '../../../../shared/cluster-protocol';

export interface TrafficPair {
  /** `from>to`, hub ids. */
  key: string;
  from: string;
  to: string;
  label: string;
  /** As the sending hub reports it; null when that hub does not report traffic (gone, or an earlier version). */
  sent: number | null;
  sentBytes: number | null;
  /** As the receiving hub reports it. */
  received: number | null;
}

export function trafficPairs(hubs: ClusterHub[]): TrafficPair[] {
  const names = new Map(hubs.map((hub) => [hub.id, hub.name]));
  const pairs = new Map<string, TrafficPair>();
  const pairOf = (from: string, to: string): TrafficPair => {
    const key = `${from}>${to}`;
    let pair = pairs.get(key);
    if (!pair) {
      pair = { key, from, to, label: `${names.get(from) ?? from} → ${names.get(to) ?? to}`, sent: null, sentBytes: null, received: null };
      pairs.set(key, pair);
    }
    return pair;
  };
  for (const hub of hubs) {
    for (const entry of hub.traffic ?? []) {
      // A hub speaks only for its own side of each pair.
      if (entry.from === hub.id && entry.to !== hub.id) {
        const pair = pairOf(entry.from, entry.to);
        pair.sent = entry.messages;
        pair.sentBytes = entry.bytes;
      } else if (entry.to === hub.id && entry.from !== hub.id) {
        pairOf(entry.from, entry.to).received = entry.messages;
      }
    }
  }
  return [...pairs.values()].sort((a, b) => messagesOf(b) - messagesOf(a) || a.label.localeCompare(b.label));
}

/** The pair's count: the sender's, else the receiver's. */
export function messagesOf(pair: TrafficPair): number {
  return pair.sent ?? pair.received ?? 0;
}

/** One sample of the pairs' counts, taken at each refresh of the cluster state. */
export interface TrafficSample {
  t: number;
  counts: Map<string, number>;
}

/** How many samples the rate chart keeps: two minutes at one refresh every 2 s. */
export const RATE_SAMPLES = 60;

/**
 * Messages per second of each pair between consecutive samples, one point per sample after the first. A count that
 * went down (a hub restarted and counts from zero again) gives no point rather than a negative rate.
 */
export function ratePoints(samples: TrafficSample[], keys: string[]): Array<{ t: number } & Record<string, number | null>> {
  const points: Array<{ t: number } & Record<string, number | null>> = [];
  for (let i = 1; i < samples.length; i++) {
    const before = samples[i - 1]!;
    const after = samples[i]!;
    const seconds = (after.t - before.t) / 1000;
    const point: { t: number } & Record<string, number | null> = { t: after.t };
    for (const key of keys) {
      const now = after.counts.get(key);
      const then = before.counts.get(key) ?? 0;
      point[key] = now === undefined || seconds <= 0 || now < then ? null : (now - then) / seconds;
    }
    points.push(point);
  }
  return points;
}
