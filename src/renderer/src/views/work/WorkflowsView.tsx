/**
 * The Workflows view: start a workflow from a pasted definition or a template, with its graph drawn before it runs.
 */
import { useState } from 'react';
import { Panel, ViewHeader } from '../../components/ui';
import { StartWorkflow } from './StartWorkflow';

export function WorkflowsView() {
  const [starting, setStarting] = useState(true);
  return (
    <div className="view" data-testid="view-workflows">
      <ViewHeader title="Workflows" subtitle="Graphs of steps run on tasks: fan-out, fan-in, approval gates." />
      {starting && (
        <Panel title="Start a workflow" testId="wf-start-panel">
          <StartWorkflow start={() => Promise.reject(new Error('this hub does not run workflows yet'))} onCancel={() => setStarting(false)} />
        </Panel>
      )}
    </div>
  );
}
