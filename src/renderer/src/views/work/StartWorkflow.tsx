/**
 * Starting a workflow from the cockpit: paste a definition's JSON (or begin from a template), see it checked as you
 * type (the shape here; agents, capabilities and references by the hub when it starts) and drawn as its graph.
 */
import { useMemo, useState } from 'react';
import { WorkflowDefinition } from '../../../../shared/workflow-protocol';
import { mapReduceOverFiles, planImplementReviewMerge } from '../../../../shared/workflow-templates';
import { WorkflowGraph } from '../../components/WorkflowGraph';
import { stepsOfDefinition } from '../../components/workflow-layout';
import '../../components/workflows.css';

const TEMPLATES: Record<string, () => unknown> = {
  'plan-implement': () => planImplementReviewMerge({ name: 'add-a-feature', project: 'default', goal: 'describe the feature here' }),
  'map-reduce': () =>
    mapReduceOverFiles({
      name: 'summarise-files',
      project: 'default',
      files: ['src/a.ts', 'src/b.ts', 'src/c.ts'],
      map: { title: 'Summarise one file', instructions: 'Summarise the file given as `file`.' },
      reduce: 'concat',
    }),
};

type Checked = { state: 'empty' } | { state: 'invalid'; problems: string[] } | { state: 'valid'; definition: WorkflowDefinition };

function check(text: string): Checked {
  if (text.trim() === '') return { state: 'empty' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { state: 'invalid', problems: [`not JSON: ${(error as Error).message}`] };
  }
  const parsed = WorkflowDefinition.safeParse(json);
  if (!parsed.success) return { state: 'invalid', problems: parsed.error.issues.slice(0, 8).map((issue) => `${issue.path.join('.') || 'definition'}: ${issue.message}`) };
  return { state: 'valid', definition: parsed.data };
}

/**
 * `start` sends the definition to the hub and resolves with the new run's id, or rejects with the hub's refusal
 * (every problem it found, each naming its step).
 */
export function StartWorkflow({ start, onCancel }: { start: (definition: unknown) => Promise<string>; onCancel: () => void }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [refusal, setRefusal] = useState<string | null>(null);
  const checked = useMemo(() => check(text), [text]);
  const steps = useMemo(() => (checked.state === 'valid' ? stepsOfDefinition(checked.definition) : []), [checked]);

  const submit = async () => {
    if (checked.state !== 'valid') return;
    setBusy(true);
    setRefusal(null);
    try {
      await start(JSON.parse(text));
    } catch (error) {
      setRefusal((error as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="wf-start" data-testid="wf-start">
      <div className="wf-actions">
        <label className="small muted" htmlFor="wf-template">
          Begin from
        </label>
        <select
          id="wf-template"
          className="input"
          value=""
          onChange={(e) => e.target.value && setText(JSON.stringify(TEMPLATES[e.target.value]!(), null, 2))}
          data-testid="wf-template"
        >
          <option value="">a template…</option>
          <option value="plan-implement">plan → implement → review → approve → merge</option>
          <option value="map-reduce">map-reduce over files</option>
        </select>
      </div>
      <textarea
        className="input"
        value={text}
        onChange={(e) => setText(e.target.value)}
        placeholder='Paste a workflow definition: { "name": …, "project": …, "input": …, "steps": { … } }'
        spellCheck={false}
        aria-label="Workflow definition (JSON)"
        aria-invalid={checked.state === 'invalid'}
        data-testid="wf-definition"
      />
      {checked.state === 'invalid' && (
        <ul className="wf-problems" data-testid="wf-definition-problems">
          {checked.problems.map((problem) => (
            <li key={problem}>{problem}</li>
          ))}
        </ul>
      )}
      {checked.state === 'valid' && (
        <>
          <p className="small muted">
            <strong>{checked.definition.name}</strong> in project {checked.definition.project ?? 'default'}: {steps.length} step{steps.length === 1 ? '' : 's'}. The hub checks
            references and that agents can run each step when it starts.
          </p>
          <WorkflowGraph steps={steps} now={0} label={`The steps of ${checked.definition.name}`} />
        </>
      )}
      {refusal && (
        <div className="error-notice" role="alert" data-testid="wf-start-refused">
          <div>
            <strong>The hub refused it</strong>
            <div className="error-message">{refusal}</div>
          </div>
        </div>
      )}
      <div className="wf-actions">
        <button type="button" className="btn btn-primary" disabled={checked.state !== 'valid' || busy} onClick={submit} data-testid="wf-start-submit">
          {busy ? 'Starting…' : 'Start workflow'}
        </button>
        <button type="button" className="btn btn-ghost" onClick={onCancel}>
          Close
        </button>
      </div>
    </div>
  );
}
