/** The bounded pool of async work (src/util/pool.ts). */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { forEachLimited, gate, mapLimited } from '../src/util/pool.js';

/** Work that records what started and how many calls were in flight at most. */
function tracked(delay: (i: number) => number, fail?: (i: number) => boolean) {
  const started: number[] = [];
  let inFlight = 0;
  let most = 0;
  const work = async (item: number): Promise<number> => {
    started.push(item);
    most = Math.max(most, ++inFlight);
    try {
      await sleep(delay(item));
      if (fail?.(item)) throw new Error(`item ${item} failed`);
      return item * 10;
    } finally {
      inFlight--;
    }
  };
  return { work, started, most: () => most, inFlight: () => inFlight };
}

const items = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('forEachLimited', () => {
  it('never has more than the limit in flight, and does every item once', async () => {
    for (const limit of [1, 3, 8]) {
      const t = tracked((i) => (i * 7) % 5);
      const results: number[] = [];
      await forEachLimited(items(20), limit, t.work, (r) => {
        assert.equal(r.status, 'fulfilled');
        if (r.status === 'fulfilled') results.push(r.value);
      });
      assert.equal(t.most(), limit, `limit ${limit}`);
      assert.deepEqual(results.sort((a, b) => a - b), items(20).map((i) => i * 10));
      assert.deepEqual(t.started, items(20), 'items are taken in order');
    }
  });

  it('reports a failed call as a rejected result and goes on', async () => {
    const t = tracked(() => 1, (i) => i === 2);
    const statuses: string[] = [];
    await forEachLimited(items(5), 2, t.work, (r, _item, index) => {
      statuses[index] = r.status;
    });
    assert.deepEqual(statuses, ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  });

  it('stops taking new work once stopped() says so, and finishes the calls in flight', async () => {
    const t = tracked((i) => (i === 0 ? 1 : 20));
    let stop = false;
    const done: number[] = [];
    await forEachLimited(
      items(50),
      3,
      t.work,
      (_r, item) => {
        done.push(item);
        if (item === 0) stop = true;
      },
      () => stop,
    );
    assert.deepEqual(t.started, [0, 1, 2], 'nothing started after the stop');
    assert.deepEqual(done.sort((a, b) => a - b), [0, 1, 2], 'the calls in flight were finished and reported');
    assert.equal(t.inFlight(), 0, 'nothing left running when it resolves');
  });

  it('waits for onResult before taking the next item', async () => {
    const t = tracked(() => 0);
    let handling = 0;
    let mostHandling = 0;
    await forEachLimited(items(10), 2, t.work, async () => {
      mostHandling = Math.max(mostHandling, ++handling);
      await sleep(2);
      handling--;
    });
    assert.ok(mostHandling <= 2 && t.most() <= 2, `at most 2 items between start and result (${mostHandling})`);
  });
});

describe('mapLimited', () => {
  it('returns the results in the items\' order', async () => {
    const t = tracked((i) => (10 - i) % 4);
    assert.deepEqual(await mapLimited(items(10), 4, t.work), items(10).map((i) => i * 10));
  });

  it('rejects with the first failure and starts nothing after it', async () => {
    const t = tracked((i) => (i === 2 ? 0 : 20), (i) => i === 2);
    await assert.rejects(mapLimited(items(100), 3, t.work), /item 2 failed/);
    assert.deepEqual(t.started, [0, 1, 2]);
    assert.equal(t.inFlight(), 0, 'the calls in flight were awaited');
  });
});

describe('gate', () => {
  it('runs at most its limit at once, in order, inside a loop that allows more', async () => {
    const t = tracked((i) => (i * 7) % 5);
    const gated = gate(3);
    const done: number[] = [];
    await forEachLimited(items(20), 10, (i) => gated(() => t.work(i)), (r) => {
      if (r.status === 'fulfilled') done.push(r.value);
    });
    assert.equal(t.most(), 3, 'three at once at most (and at least: ten were waiting)');
    assert.deepEqual(t.started, items(20), 'started in the order they came');
    assert.deepEqual(done.sort((a, b) => a - b), items(20).map((i) => i * 10));
  });

  it('passes a failure on and frees its place', async () => {
    const t = tracked(() => 1, (i) => i % 2 === 0);
    const gated = gate(1);
    const results = await Promise.allSettled(items(6).map((i) => gated(() => t.work(i))));
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    assert.equal(t.most(), 1);
    assert.equal(t.inFlight(), 0);
  });
});
