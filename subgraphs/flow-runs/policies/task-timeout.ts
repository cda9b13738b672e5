import type { Policy } from './types';

const NAME = 'task-timeout';

export const taskTimeout: Policy = {
  name: NAME,
  preTask(task, { limits }) {
    if (task.timeoutSeconds <= limits.maxTaskTimeoutSeconds) return [];
    return [{ policy: NAME, taskId: task.id, limit: limits.maxTaskTimeoutSeconds, actual: task.timeoutSeconds,
      message: `task "${task.id}" has a timeout of ${task.timeoutSeconds}s, at most ${limits.maxTaskTimeoutSeconds}s allowed` }];
  },
};
