import type { Policy } from './types';

const NAME = 'task-retries';

export const taskRetries: Policy = {
  name: NAME,
  preTask(task, { limits }) {
    if (task.retries <= limits.maxRetries) return [];
    return [{ policy: NAME, taskId: task.id, limit: limits.maxRetries, actual: task.retries,
      message: `task "${task.id}" asks for ${task.retries} retries, at most ${limits.maxRetries} allowed` }];
  },
};
