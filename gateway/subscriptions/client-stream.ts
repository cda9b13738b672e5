import { GraphQLError, type ExecutionResult } from 'graphql';

/**
 * One client's subscription as an async iterator fed by pushes. Hand-written rather than an async generator so that
 * `return()` (client unsubscribed or disconnected) runs `onClose` at once instead of waiting for the next event.
 * At most `maxQueued` results wait for a slow client; one more ends the stream with SUBSCRIBER_TOO_SLOW.
 */
export class ClientStream implements AsyncIterableIterator<ExecutionResult> {
  private queue: ExecutionResult[] = [];
  private waiting?: (r: IteratorResult<ExecutionResult>) => void;
  private ending = false;
  private done = false;

  constructor(private maxQueued: number, private onClose: () => void) {}

  push(result: ExecutionResult): void {
    if (this.ending || this.done) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve({ value: result, done: false });
      return;
    }
    if (this.queue.length >= this.maxQueued) {
      this.fail(new GraphQLError(`the client fell ${this.maxQueued} events behind and was disconnected; resubscribe with since`, {
        extensions: { code: 'SUBSCRIBER_TOO_SLOW', retryable: true },
      }));
      return;
    }
    this.queue.push(result);
  }

  /** Sends one last error result (when it can be queued) and then completes. */
  fail(error: GraphQLError): void {
    if (this.ending || this.done) return;
    const last: ExecutionResult = { errors: [error] };
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve({ value: last, done: false });
    } else {
      this.queue.push(last); // the final error may exceed the bound by one
    }
    this.ending = true;
    this.detach();
    if (this.waiting && this.queue.length === 0) this.finish();
  }

  /** Completes without an error (the upstream stream ended normally). */
  end(): void {
    if (this.ending || this.done) return;
    this.ending = true;
    this.detach();
    if (this.waiting && this.queue.length === 0) this.finish();
  }

  get queued(): number {
    return this.queue.length;
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    const value = this.queue.shift();
    if (value) return Promise.resolve({ value, done: false });
    if (this.ending || this.done) {
      this.done = true;
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => { this.waiting = resolve; });
  }

  return(): Promise<IteratorResult<ExecutionResult>> {
    this.queue = [];
    this.ending = true;
    this.detach();
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(err?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.return();
    return Promise.reject(err);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private detached = false;
  private detach(): void {
    if (this.detached) return;
    this.detached = true;
    this.onClose();
  }

  private finish(): void {
    this.done = true;
    const resolve = this.waiting;
    this.waiting = undefined;
    resolve?.({ value: undefined, done: true });
  }
}
