import type { Policy } from './types';

const NAME = 'task-output-size';
export const MAX_TASK_OUTPUT_BYTES = 1024 * 1024;

export const taskOutputSize: Policy = {
  name: NAME,
  postTask(task, report) {
    if (report.output === undefined) return [];
    const bytes = Buffer.byteLength(JSON.stringify(report.output) ?? '');
    if (bytes <= MAX_TASK_OUTPUT_BYTES) return [];
    return [{ policy: NAME, taskId: task.id, limit: MAX_TASK_OUTPUT_BYTES, actual: bytes,
      message: `task "${task.id}" reported ${bytes} bytes of output, at most ${MAX_TASK_OUTPUT_BYTES} allowed` }];
  },
};
