import { describe, expect, it } from 'vitest';
import { CallQueue } from '../../src/api/call-queue';
import { SupersededError } from '../../src/errors';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('CallQueue', () => {
  it('runs one call at a time, in order', async () => {
    const queue = new CallQueue();
    const order: string[] = [];
    const gate = deferred<void>();
    const a = queue.run(async () => {
      order.push('a start');
      await gate.promise;
      order.push('a end');
      return 'a';
    });
    const b = queue.run(async () => {
      order.push('b');
      return 'b';
    });
    await Promise.resolve();
    expect(order).toEqual(['a start']);
    expect(queue.length).toBe(1);
    gate.resolve();
    expect(await Promise.all([a, b])).toEqual(['a', 'b']);
    expect(order).toEqual(['a start', 'a end', 'b']);
  });

  it('a newer replaceable call supersedes a queued replaceable one, not the running one or plain calls', async () => {
    const queue = new CallQueue();
    const gate = deferred<void>();
    const running = queue.run(async () => {
      await gate.promise;
      return 'frame 1';
    }, true);
    const stale = queue.run(async () => 'frame 2', true);
    const plain = queue.run(async () => 'one-shot');
    const newest = queue.run(async () => 'frame 3', true);
    await expect(stale).rejects.toBeInstanceOf(SupersededError);
    gate.resolve();
    expect(await running).toBe('frame 1');
    expect(await plain).toBe('one-shot');
    expect(await newest).toBe('frame 3');
  });

  it('a failing call does not stall the queue', async () => {
    const queue = new CallQueue();
    const failed = queue.run(async () => {
      throw new Error('boom');
    });
    const next = queue.run(async () => 42);
    await expect(failed).rejects.toThrow('boom');
    expect(await next).toBe(42);
  });
});
