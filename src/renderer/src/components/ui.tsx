/** The cockpit's small building blocks: headers, panels, figures, badges, notices, and the per-view error boundary. */
import { Component, type ErrorInfo, type ReactNode } from 'react';
import type { AgentStatus, Importance } from '../../../shared/agent-protocol';

export function ViewHeader({ title, subtitle, actions }: { title: string; subtitle?: ReactNode; actions?: ReactNode }) {
  return (
    <header className="view-header">
      <div>
        <h1>{title}</h1>
        {subtitle && <p className="view-subtitle">{subtitle}</p>}
      </div>
      {actions && <div className="view-actions">{actions}</div>}
    </header>
  );
}

export function Panel({
  title,
  meta,
  actions,
  children,
  className,
  testId,
  bodyClassName,
}: {
  title?: ReactNode;
  meta?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
  testId?: string;
  bodyClassName?: string;
}) {
  return (
    <section className={`panel ${className ?? ''}`} data-testid={testId}>
      {(title || actions || meta) && (
        <header className="panel-header">
          {title && <h2 className="panel-title">{title}</h2>}
          {meta && <div className="panel-meta">{meta}</div>}
          {actions && <div className="panel-actions">{actions}</div>}
        </header>
      )}
      <div className={`panel-body ${bodyClassName ?? ''}`}>{children}</div>
    </section>
  );
}

export type Tone = 'up' | 'warn' | 'down' | 'muted' | 'accent';

export function Stat({ label, value, sub, tone, testId }: { label: string; value: ReactNode; sub?: ReactNode; tone?: Tone; testId?: string }) {
  return (
    <div className={`stat ${tone ? `tone-${tone}` : ''}`}>
      <div className="stat-label">{label}</div>
      <div className="stat-value num" data-testid={testId}>
        {value}
      </div>
      {sub !== undefined && <div className="stat-sub">{sub}</div>}
    </div>
  );
}

export function Empty({ title, children, testId }: { title: string; children?: ReactNode; testId?: string }) {
  return (
    <div className="empty" data-testid={testId}>
      <div className="empty-title">{title}</div>
      {children && <div className="empty-body">{children}</div>}
    </div>
  );
}

export function Loading({ children = 'Loading…' }: { children?: ReactNode }) {
  return (
    <div className="loading" aria-busy="true">
      <span className="spinner" aria-hidden="true" />
      <span>{children}</span>
    </div>
  );
}

export function ErrorNotice({ message, onRetry, title = 'The hub did not answer' }: { message: string; onRetry?: () => void; title?: string }) {
  return (
    <div className="error-notice" role="alert">
      <div>
        <strong>{title}</strong>
        <div className="error-message">{message}</div>
      </div>
      {onRetry && (
        <button type="button" className="btn btn-small" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

const STATUS_TONE: Record<AgentStatus, string> = { online: 'up', busy: 'accent', idle: 'muted', waiting: 'warn', offline: 'off' };

export function StatusBadge({ status, revoked }: { status: AgentStatus; revoked?: boolean }) {
  if (revoked) return <span className="status-badge status-revoked">revoked</span>;
  return (
    <span className={`status-badge status-${STATUS_TONE[status]}`} data-status={status}>
      <span className="status-dot" aria-hidden="true" />
      {status}
    </span>
  );
}

export function ImportanceBadge({ importance }: { importance: Importance }) {
  if (importance === 'normal') return null;
  return <span className={`tag importance-${importance}`}>{importance}</span>;
}

export function Tag({ children, tone }: { children: ReactNode; tone?: Tone }) {
  return <span className={`tag ${tone ? `tone-${tone}` : ''}`}>{children}</span>;
}

/** One view failing (a bug, an answer of an unexpected shape) must not blank the whole cockpit. */
export class ViewBoundary extends Component<{ children: ReactNode; name: string }, { error: Error | null }> {
  override state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override componentDidCatch(error: Error, info: ErrorInfo): void {
    console.warn(`[cockpit] the ${this.props.name} view failed`, error, info.componentStack);
  }

  override componentDidUpdate(previous: { name: string }): void {
    if (previous.name !== this.props.name && this.state.error) this.setState({ error: null });
  }

  override render() {
    if (this.state.error) {
      return (
        <ErrorNotice
          title={`The ${this.props.name} view failed`}
          message={this.state.error.message}
          onRetry={() => this.setState({ error: null })}
        />
      );
    }
    return this.props.children;
  }
}
