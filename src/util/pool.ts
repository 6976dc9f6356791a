/**
 * Runs an async function over items with at most `limit` calls in flight, calling `onResult` in
 * completion order. Items are pulled lazily, so memory holds `limit` results at most, not all;
 * once `stopped()` says so, no new item is started and the calls in flight are finished.
 */
export async function forEachLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
  onResult: (result: PromiseSettledResult<R>, item: T, index: number) => void | Promise<void>,
  stopped: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !stopped()) {
      const index = next++;
      const item = items[index]!;
      let result: PromiseSettledResult<R>;
      try {
        result = { status: 'fulfilled', value: await work(item, index) };
      } catch (reason) {
        result = { status: 'rejected', reason };
      }
      await onResult(result, item, index);
    }
  };
  const n = Math.max(1, Math.min(limit, items.length));
  await Promise.all(Array.from({ length: n }, worker));
}

/** `work` over all items, at most `limit` at a time; results in the items' order; the first failure rejects. */
export async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let failure: PromiseRejectedResult | undefined;
  await forEachLimited(
    items,
    limit,
    work,
    (result, _item, index) => {
      if (result.status === 'fulfilled') out[index] = result.value;
      else failure ??= result;
    },
    () => failure !== undefined,
  );
  if (failure) throw failure.reason;
  return out;
}

/**
 * A gate that lets at most `limit` calls of `work` run at once: the others wait, in order. For a
 * kind of work that must stay bounded inside a loop (forEachLimited) that allows more.
 */
export function gate(limit: number): <R>(work: () => Promise<R>) => Promise<R> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <R>(work: () => Promise<R>): Promise<R> => {
    if (running >= limit) await new Promise<void>((go) => waiting.push(go));
    else running++;
    try {
      return await work();
    } finally {
      // The slot passes straight to the next in line (running unchanged), or is freed.
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}
