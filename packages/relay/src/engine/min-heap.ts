/**
 * A binary min-heap. With `track`, the heap reports every item's position (-1 once it leaves),
 * so an item can be re-keyed or removed in O(log n) without a search.
 */
export class MinHeap<T> {
  private readonly items: T[] = [];

  constructor(
    private readonly less: (a: T, b: T) => boolean,
    private readonly track: (item: T, index: number) => void = () => {},
  ) {}

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    this.items.push(item);
    this.up(this.items.length - 1);
  }

  pop(): T | undefined {
    return this.items.length === 0 ? undefined : this.removeAt(0);
  }

  /** Restore order after the key of the item at `index` changed. */
  update(index: number): void {
    if (!this.up(index)) this.down(index);
  }

  /** Remove the item at `index` (a position reported by `track`). */
  removeAt(index: number): T {
    const { items } = this;
    const item = items[index]!;
    const last = items.pop()!;
    this.track(item, -1);
    if (index < items.length) {
      items[index] = last;
      this.track(last, index);
      this.update(index);
    }
    return item;
  }

  /** Moves the item at `i` towards the root; true when it moved. */
  private up(i: number): boolean {
    const { items } = this;
    const item = items[i]!;
    const from = i;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(item, items[parent]!)) break;
      items[i] = items[parent]!;
      this.track(items[i]!, i);
      i = parent;
    }
    items[i] = item;
    this.track(item, i);
    return i !== from;
  }

  private down(i: number): void {
    const { items } = this;
    const n = items.length;
    const item = items[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.less(items[right]!, items[left]!) ? right : left;
      if (!this.less(items[child]!, item)) break;
      items[i] = items[child]!;
      this.track(items[i]!, i);
      i = child;
    }
    items[i] = item;
    this.track(item, i);
  }
}
