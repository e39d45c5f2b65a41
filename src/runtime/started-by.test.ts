import { describe, expect, it } from 'vitest';
import { describeStartedBy, startedBy } from './started-by.js';

describe('who started a run', () => {
  it('names the local user, and who sudo-ed to it', () => {
    const who = startedBy({ SUDO_USER: 'alice' }, 0);
    expect(who.uid).toBe(0);
    expect(who.sudo_user).toBe('alice');
    expect(who.ci).toBeUndefined();
    expect(describeStartedBy({ uid: 0, user: 'root', sudo_user: 'alice' })).toBe('root (sudo by alice)');
  });

  it('names the CI system and its run, repository and actor', () => {
    expect(
      startedBy(
        { GITHUB_ACTIONS: 'true', GITHUB_RUN_ID: '42', GITHUB_REPOSITORY: 'org/repo', GITHUB_ACTOR: 'bot' },
        1000,
      ).ci,
    ).toEqual({ system: 'github-actions', run: '42', repository: 'org/repo', actor: 'bot' });
    expect(startedBy({ GITLAB_CI: 'true', CI_PIPELINE_ID: '7' }, 1000).ci).toEqual({ system: 'gitlab-ci', run: '7' });
    expect(startedBy({ CI: 'true' }, 1000).ci).toEqual({ system: 'ci' });
  });

  it('bounds what the environment says (length, control characters)', () => {
    const who = startedBy({ GITHUB_ACTIONS: 'true', GITHUB_ACTOR: `evil\u001b[2J${'x'.repeat(500)}` }, 1000);
    expect(who.ci?.actor?.length).toBe(128);
    expect(who.ci?.actor).not.toContain('\u001b');
  });
});
