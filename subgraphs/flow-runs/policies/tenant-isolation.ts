import type { Policy, Violation } from './types';

const NAME = 'tenant-isolation';

/** The caller may only act on flows of its own tenant, and a definition may not name another tenant. */
export const tenantIsolation: Policy = {
  name: NAME,
  flow({ identity, flow, definition }) {
    const caller = identity.tenantId;
    const violations: Violation[] = [];
    if (flow.tenantId !== caller) {
      violations.push({ policy: NAME, taskId: null, limit: caller, actual: flow.tenantId,
        message: `flow "${flow.id}" belongs to tenant "${flow.tenantId}", not to the caller's tenant "${caller}"` });
    }
    if (definition.tenantId !== undefined && definition.tenantId !== caller) {
      violations.push({ policy: NAME, taskId: null, limit: caller, actual: definition.tenantId,
        message: `the definition names tenant "${definition.tenantId}", not the caller's tenant "${caller}"` });
    }
    return violations;
  },
};
