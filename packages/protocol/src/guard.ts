// Tiny structural validators for the browser, where zod would cost ~7 KB brotli.
// A guard returns a fresh copy of its input holding only the keys it knows (as zod's
// z.object strips unknown keys), or throws. `parse` turns the throw into `undefined`.

/** Validates `v` and returns a copy without unknown keys; throws when `v` does not match. */
export type Guard<T> = (v: unknown) => T;
/** The type a guard returns. */
export type Infer<G> = G extends Guard<infer T> ? T : never;
type Opt<T> = Guard<T | undefined> & { readonly optional: true };
type Shape = Record<string, Guard<unknown>>;
type Flat<T> = { [K in keyof T]: T[K] };
type Obj<S extends Shape> = Flat<
  { [K in keyof S as S[K] extends Opt<unknown> ? never : K]: Infer<S[K]> } & {
    [K in keyof S as S[K] extends Opt<unknown> ? K : never]?: Exclude<Infer<S[K]>, undefined>;
  }
>;

// The combinators build guards and do nothing else (`@__NO_SIDE_EFFECTS__`): a bundle drops the
// guards it builds and never uses.
const no = (): never => {
  throw 0;
};

/** A string of `min`–`max` code points (zod counts code points, not UTF-16 units), matching `re`. Unlike the schemas' `str` (1–max), empty is allowed unless `min` says otherwise. */
export const chars =
  /* @__NO_SIDE_EFFECTS__ */ (max: number, min = 0, re?: RegExp): Guard<string> =>
  (v) => {
    if (typeof v != 'string' || (re && !re.test(v))) no();
    let n = (v as string).length;
    // A code point is one or two units: count them only when the units leave it in doubt.
    if (n > max || n < 2 * min) n = [...(v as string)].length;
    return n < min || n > max ? no() : (v as string);
  };

/** A safe integer in `min`–`max`. */
export const int =
  /* @__NO_SIDE_EFFECTS__ */ (min = 0, max = Number.MAX_SAFE_INTEGER): Guard<number> =>
  (v) =>
    Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max ? (v as number) : no();

/** A finite number. */
export const num: Guard<number> = (v) => (Number.isFinite(v) ? (v as number) : no());

export const bool: Guard<boolean> = (v) => (typeof v == 'boolean' ? v : no());

/** One of the given values (a literal, or an enum with several). */
export const oneOf =
  /* @__NO_SIDE_EFFECTS__ */ <const T extends readonly string[]>(...values: T): Guard<T[number]> =>
  (v) =>
    values.includes(v as string) ? (v as T[number]) : no();

/** An array of `min`–`max` items, each checked by `item`. */
export const arr =
  /* @__NO_SIDE_EFFECTS__ */ <T>(item: Guard<T>, max: number, min = 0): Guard<T[]> =>
  (v) =>
    Array.isArray(v) && v.length >= min && v.length <= max ? Array.from(v, (x) => item(x)) : no();

/** Marks an object key optional: an absent key stays absent, as in zod. */
export const opt = /* @__NO_SIDE_EFFECTS__ */ <T>(g: Guard<T>): Opt<T> => ((v: unknown) => (v === undefined ? v : g(v))) as Opt<T>;

/** An object with exactly these keys checked; other keys are dropped. */
export const obj =
  /* @__NO_SIDE_EFFECTS__ */ <S extends Shape>(shape: S): Guard<Obj<S>> =>
  (v) => {
    if (typeof v != 'object' || !v || Array.isArray(v)) no();
    const out: Record<string, unknown> = {};
    for (const k in shape) {
      const r = shape[k]!((v as Record<string, unknown>)[k]);
      if (k in (v as object)) out[k] = r;
    }
    return out as Obj<S>;
  };

/**
 * The first option that accepts `v`. Options are objects with distinct literal
 * discriminants listed first, so this is zod's discriminated union.
 */
export const union =
  /* @__NO_SIDE_EFFECTS__ */ <G extends Guard<unknown>[]>(...options: G): Guard<Infer<G[number]>> =>
  (v) => {
    for (const g of options) {
      try {
        return g(v) as Infer<G[number]>;
      } catch {
        // try the next option
      }
    }
    return no();
  };

/** `g(v)`, or `undefined` when `v` does not match. Never throws. */
export function parse<T>(g: Guard<T>, v: unknown): T | undefined {
  try {
    return g(v);
  } catch {
    return undefined;
  }
}
