/**
 * The advisor: evaluates its rules (rules/, one file per area) against the hub's own measurements when asked, and
 * applies a piece of advice's fix on request, reporting before/after figures. With `advisor.autoFix` it evaluates
 * every `evaluateSeconds` and applies the safe fixes (WAL checkpoints) itself.
 */
import type { Advice, AdviceReport, FixResult } from '../../shared/advice-protocol';
import { HubError } from '../errors';
import type { Metrics } from '../monitor/metrics';
import { Measurements } from './measurements';
import { agentRules } from './rules/agents';
import { diskRules } from './rules/disk';
import { eventLoopRules, processRules } from './rules/event-loop';
import { inferenceRules } from './rules/inference';
import type { AdvisedHub, Finding, Rule, RuleContext } from './rules/rule';
import { searchRules } from './rules/search';
import { sqliteRules } from './rules/sqlite';
import type { AdvisorSettings } from './settings';

const RULES: Rule[] = [searchRules, eventLoopRules, processRules, sqliteRules, inferenceRules, agentRules, diskRules];
const KEEP_FIXES = 20;
/** An automatic fix that failed is not tried again for this long (a person can still click it). */
const AUTO_RETRY_MS = 5 * 60_000;
const FIRST_LOOK_MS = 3_000;

export interface AdvisorDeps {
  hub: () => AdvisedHub;
  metrics: Metrics;
  settings: () => AdvisorSettings;
  dataDir: string;
  backupTarget: () => string | null;
}

export class Advisor {
  readonly measurements: Measurements;
  /** When each piece of advice was first seen, while it lasts. */
  private readonly since = new Map<string, string>();
  private readonly lastFix = new Map<string, FixResult>();
  private recent: FixResult[] = [];
  private readonly running = new Map<string, Promise<FixResult>>();
  private stopRecording: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private firstLook: NodeJS.Timeout | undefined;
  private autoRunning = false;
  /** The advice of the last evaluation (each tick evaluates), for readers that cannot wait for one. */
  private lastAdvice: Advice[] = [];
  private readonly changeListeners = new Set<() => void>();

  constructor(private readonly deps: AdvisorDeps) {
    this.measurements = new Measurements(() => deps.settings().stallMs);
  }

  start(): void {
    this.measurements.start();
    this.stopRecording = this.deps.metrics.onRecord((op, ms, detail) => this.measurements.operation(op, ms, detail));
    this.timer = setInterval(() => void this.autoFix(), this.deps.settings().evaluateSeconds * 1000);
    this.timer.unref();
    // A first look soon after start, so the attention list names a bottleneck without waiting a whole interval.
    this.firstLook = setTimeout(() => void this.autoFix(), FIRST_LOOK_MS);
    this.firstLook.unref();
  }

  /** Stops measuring; a fix under way ends with the service it works on (a rebuild is cancelled by the index closing). */
  stop(): void {
    clearInterval(this.timer);
    clearTimeout(this.firstLook);
    this.stopRecording?.();
    this.measurements.stop();
  }

  /** Every rule's advice now, worst first; `project` keeps only advice about that project's agents (and the hub's). */
  async report(project?: string): Promise<AdviceReport> {
    const findings = await this.evaluate();
    const advice = findings
      .map(({ advice }): Advice => ({ ...advice, since: this.since.get(advice.id)!, lastFix: this.lastFix.get(advice.id) ?? null }))
      .filter((advice) => project === undefined || advice.project === undefined || advice.project === project);
    const recentFixes = project === undefined ? this.recent : this.recent.filter((fix) => advice.some((a) => a.id === fix.adviceId));
    return { at: new Date().toISOString(), advice, autoFix: this.deps.settings().autoFix, recentFixes };
  }

  /** Applies a piece of advice's fix (found anew, so the condition still holds); one fix per advice at a time. */
  fix(id: string, automatic = false): Promise<FixResult> {
    const under = this.running.get(id);
    if (under) return under;
    const run = this.applyFix(id, automatic).finally(() => this.running.delete(id));
    this.running.set(id, run);
    return run;
  }

  private async applyFix(id: string, automatic: boolean): Promise<FixResult> {
    const finding = (await this.evaluate()).find((f) => f.advice.id === id);
    if (!finding) throw new HubError('not_found', `no advice ${id} now: the condition is gone (or never held)`);
    const { fix } = finding.advice;
    if (!fix || !finding.apply) throw new HubError('invalid_request', `advice ${id} has no fix the hub can apply; ${finding.advice.suggestion}`);
    const startedAt = new Date().toISOString();
    const t0 = performance.now();
    let result: FixResult;
    try {
      const figures = await finding.apply();
      result = { adviceId: id, kind: fix.kind, ok: true, automatic, startedAt, durationMs: performance.now() - t0, figures, error: null };
    } catch (error) {
      result = { adviceId: id, kind: fix.kind, ok: false, automatic, startedAt, durationMs: performance.now() - t0, figures: [], error: (error as Error).message };
    }
    this.lastFix.set(id, result);
    this.recent = [result, ...this.recent].slice(0, KEEP_FIXES);
    // A fixed condition leaves latest() (and the attention list) now, not at the next tick.
    await this.evaluate().catch(() => undefined);
    return result;
  }

  private async evaluate(): Promise<Finding[]> {
    const context: RuleContext = {
      hub: this.deps.hub(),
      settings: this.deps.settings(),
      measurements: this.measurements,
      dataDir: this.deps.dataDir,
      backupTarget: this.deps.backupTarget(),
    };
    const results = await Promise.all(RULES.map(async (rule) => rule(context)));
    const findings = results.flat();
    const now = new Date().toISOString();
    const seen = new Set(findings.map((f) => f.advice.id));
    for (const id of [...this.since.keys()]) if (!seen.has(id)) this.since.delete(id);
    for (const id of seen) if (!this.since.has(id)) this.since.set(id, now);
    const rank = { critical: 0, warning: 1, info: 2 } as const;
    findings.sort((a, b) => rank[a.advice.severity] - rank[b.advice.severity]);
    const before = this.lastAdvice.map((advice) => `${advice.id}:${advice.severity}`).join();
    this.lastAdvice = findings.map(({ advice }) => ({ ...advice, since: this.since.get(advice.id)!, lastFix: this.lastFix.get(advice.id) ?? null }));
    // Readers of latest() (the attention list) hear when a finding came, went or changed severity.
    if (this.lastAdvice.map((advice) => `${advice.id}:${advice.severity}`).join() !== before) for (const listener of this.changeListeners) listener();
    return findings;
  }

  /** With advisor.autoFix: applies every safe fix found, one evaluation at a time. */
  private async autoFix(): Promise<void> {
    if (this.autoRunning) return;
    this.autoRunning = true;
    try {
      // Every tick evaluates, so latest() (the attention list's bottlenecks) stays current; fixes only when allowed.
      const findings = await this.evaluate();
      if (!this.deps.settings().autoFix) return;
      for (const finding of findings) {
        const { id } = finding.advice;
        const last = this.lastFix.get(id);
        if (last?.automatic && !last.ok && Date.now() - Date.parse(last.startedAt) < AUTO_RETRY_MS) continue;
        if (finding.advice.fix?.safe && finding.apply) await this.fix(id, true).catch(() => undefined);
      }
    } catch {
      // The hub stopping under the evaluation: the next tick (if any) tries again.
    } finally {
      this.autoRunning = false;
    }
  }

  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** The advice as of the last evaluation (the timer's, or the last report or fix), worst first. */
  latest(): Advice[] {
    return this.lastAdvice;
  }

  /** Evaluates and auto-fixes now (what the timer does), for tests and the first tick after start. */
  runAutoFix(): Promise<void> {
    return this.autoFix();
  }
}
