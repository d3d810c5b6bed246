/**
 * Cross-hub traffic: messages per pair of hubs since each hub started (a bar per pair, sender's count), the rate of
 * each pair over the last two minutes, and a table with both sides' counts and the bytes.
 */
import { useMemo } from 'react';
import type { ClusterHub } from '../../../../shared/cluster-protocol';
import { Bars, cssColor, TimeChart } from '../../components/charts';
import { Empty, Panel } from '../../components/ui';
import { formatBytes, formatCount, formatRate } from '../../format';
import { messagesOf, ratePoints, trafficPairs, type TrafficSample } from './traffic';

/** Pairs drawn in the rate chart (the busiest); the table lists them all. */
const RATE_SERIES = 6;
const SERIES_COLORS = ['--c-blue', '--c-green', '--c-violet', '--c-amber', '--c-cyan', '--c-pink'];

/** `samples`: the pairs' counts at each refresh; the rates are the differences between them. */
export function TrafficPanel({ hubs, samples }: { hubs: ClusterHub[]; samples: TrafficSample[] }) {
  const pairs = useMemo(() => trafficPairs(hubs), [hubs]);
  const reported = hubs.some((hub) => hub.traffic !== undefined);
  const busiest = useMemo(() => pairs.slice(0, RATE_SERIES), [pairs]);
  const points = useMemo(() => ratePoints(samples, busiest.map((pair) => pair.key)), [samples, busiest]);
  const latest = points[points.length - 1];

  return (
    <Panel title="Cross-hub traffic" testId="cluster-traffic" meta={<span>messages each hub handed to another through Redis, since it started</span>}>
      {!reported ? (
        <Empty title="No traffic reported" testId="cluster-traffic-none">
          No hub reports cross-hub messages yet: they are counted once messages travel between hubs.
        </Empty>
      ) : pairs.length === 0 ? (
        <Empty title="No messages between hubs yet" testId="cluster-traffic-none">
          Every message so far stayed on the hub it was sent to.
        </Empty>
      ) : (
        <div className="traffic">
          <div className="traffic-charts">
            <div>
              <h3 className="traffic-title">Messages per pair</h3>
              <Bars
                data={pairs.map((pair) => ({ label: pair.label, value: messagesOf(pair) }))}
                format={formatCount}
                horizontal
                labelWidth={150}
                name="messages"
                testId="traffic-bars"
              />
            </div>
            <div>
              <h3 className="traffic-title">Messages per second</h3>
              <TimeChart
                data={points}
                series={busiest.map((pair, index) => ({ key: pair.key, name: pair.label, color: cssColor(SERIES_COLORS[index % SERIES_COLORS.length]!) }))}
                format={formatRate}
                height={150}
                emptyText="No messages between hubs"
                testId="traffic-rates"
              />
            </div>
          </div>
          <div className="table-scroll">
            <table className="table" data-testid="traffic-table">
              <thead>
                <tr>
                  <th>From → to</th>
                  <th className="right">Sent</th>
                  <th className="right">Received</th>
                  <th className="right">Bytes</th>
                  <th className="right">Now</th>
                </tr>
              </thead>
              <tbody>
                {pairs.map((pair) => (
                  <tr key={pair.key} data-testid={`traffic-${pair.label}`}>
                    <td>{pair.label}</td>
                    <td className="right num" data-testid="traffic-sent">
                      {formatCount(pair.sent)}
                    </td>
                    <td className="right num" data-testid="traffic-received">
                      {formatCount(pair.received)}
                    </td>
                    <td className="right num">{formatBytes(pair.sentBytes)}</td>
                    <td className="right num">{formatRate(latest?.[pair.key] ?? null)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
    </Panel>
  );
}
