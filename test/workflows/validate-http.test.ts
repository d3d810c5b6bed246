/** POST /api/v1/workflows/validate on a real hub: the plan, or a 400 whose problems name each step; the caller's project. */
import { describe, expect, it } from 'vitest';
import { HubClient, HubClientError } from '../../src/client';
import { apiRoute } from '../../src/client/http';
import { WORKFLOW_VALIDATE_PATH } from '../../src/shared/workflow-protocol';
import { startHub } from '../hub/harness';

const path = apiRoute(WORKFLOW_VALIDATE_PATH);

describe('checking a workflow over HTTP', () => {
  it("answers the plan for a valid definition, and a 400 naming each step at fault against the project's agents", async () => {
    const hub = await startHub();
    const planner = await hub.register('planner', { tier: 'strategic', capabilities: ['plan'] });
    await hub.register('coder', { capabilities: ['code'] });
    const definition = {
      name: 'ship',
      input: { goal: 'x' },
      steps: {
        plan: { kind: 'task', title: 'plan', tier: 'strategic', input: { goal: { $ref: 'input.goal' } } },
        build: { kind: 'fan-out', dependsOn: ['plan'], items: { $ref: 'steps.plan.result.parts' }, task: { title: 'build', capabilities: ['code'] } },
        join: { kind: 'fan-in', dependsOn: ['build'], aggregate: 'collect' },
      },
    };
    const good = await hub.api(path, { token: planner.token, body: definition });
    expect(good.status).toBe(200);
    expect(good.body).toEqual({ ok: true, name: 'ship', project: 'test', steps: 3, plan: { levels: [['plan'], ['build'], ['join']] } });

    const bad = await hub.api(path, {
      token: planner.token,
      body: {
        ...definition,
        steps: {
          ...definition.steps,
          review: { kind: 'task', title: 'review', dependsOn: ['join'], capabilities: ['review'] },
          loopA: { kind: 'task', title: 'a', dependsOn: ['loopB'] },
          loopB: { kind: 'task', title: 'b', dependsOn: ['loopA'], input: { $ref: 'steps.review.result' } },
        },
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_request');
    expect(bad.body.problems.map((p: { code: string; step: string }) => `${p.code} ${p.step}`).sort()).toEqual(['cycle loopA', 'no_capable_agent review', 'ref_not_upstream loopB']);
    expect(bad.body.error).toContain('no agent with capability `review` in project test');
    expect(bad.body.error).toContain('loopA -> loopB -> loopA');
  });

  it("runs an agent's workflow in its own project only; the cockpit names the project", async () => {
    const hub = await startHub();
    const agent = await hub.register('lead', { capabilities: ['plan'] });
    const definition = { name: 'w', steps: { a: { kind: 'task', title: 'a', capabilities: ['plan'] } } };
    const elsewhere = await hub.api(path, { token: agent.token, body: { ...definition, project: 'other' } });
    expect(elsewhere.status).toBe(403);

    const cockpitToken = hub.app.cockpitToken;
    const inTest = await hub.api(path, { token: cockpitToken, body: { ...definition, project: 'test' } });
    expect(inTest.status).toBe(200);
    const inDefault = await hub.api(path, { token: cockpitToken, body: definition });
    expect(inDefault.status).toBe(400);
    expect(inDefault.body.problems[0]).toMatchObject({ code: 'no_capable_agent', step: 'a', path: 'steps.a.capabilities' });
    expect(inDefault.body.error).toContain('no agent in project default');

    expect((await hub.api(path, { body: definition })).status).toBe(401);
    const notJson = await hub.api(path, { token: agent.token, body: '{"name": ' });
    expect(notJson.status).toBe(400);
  });

  it('the client library checks a definition: the plan, or HubClientError with the problems', async () => {
    const hub = await startHub();
    const lead = await HubClient.register({ name: 'lead', project: 'shop', tier: 'strategic', url: hub.url, persist: false });
    const check = await lead.checkWorkflow({ name: 'w', steps: { a: { kind: 'task', title: 'a', tier: 'strategic' }, b: { kind: 'fan-in', dependsOn: ['a'], aggregate: 'collect' } } });
    expect(check).toEqual({ ok: true, name: 'w', project: 'shop', steps: 2, plan: { levels: [['a'], ['b']] } });
    const refused = await lead.checkWorkflow({ name: 'w', steps: { a: { kind: 'task', title: 'a', dependsOn: ['z'] } } }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(HubClientError);
    expect((refused as HubClientError).status).toBe(400);
    expect((refused as HubClientError & { body: { problems: unknown[] } }).body.problems).toEqual([
      { code: 'unknown_step', step: 'a', path: 'steps.a.dependsOn.0', message: 'step `a` depends on `z`, which is not a step of this workflow' },
    ]);
    await lead.close();
  });
});
