/**
 * maybe: a value now or a promise of it, for steps that only sometimes
 * wait. A chain of async functions costs a promise and a microtask per
 * step even when every answer is at hand (a cached route, a table in
 * memory); with Maybe the chain stays synchronous until a step really
 * waits, and from there goes on as promises do.
 */
export type Maybe<T> = T | Promise<T>;

/** `f` of the value: now when it is at hand, else when it comes. */
export function andThen<T, U>(value: Maybe<T>, f: (v: T) => Maybe<U>): Maybe<U> {
  return value instanceof Promise ? value.then(f) : f(value);
}

/**
 * The first answer of `check` over `items`, in order, that is not
 * undefined: an item is checked only when the ones before it answered
 * undefined, and the whole is synchronous until a check returns a promise.
 */
export function firstDefined<I, T>(items: readonly I[], check: (item: I) => Maybe<T | undefined>, from = 0): Maybe<T | undefined> {
  for (let k = from; k < items.length; k++) {
    const answer = check(items[k]);
    if (answer instanceof Promise) {
      const next = k + 1;
      return answer.then((a) => (a !== undefined ? a : firstDefined(items, check, next)));
    }
    if (answer !== undefined) return answer;
  }
  return undefined;
}
