/** Handle of one entry in a `WaitQueue`, used to remove it from the middle. */
export interface WaitQueueNode<T> {
  readonly value: T;
  /** @internal */
  previous: WaitQueueNode<T> | undefined;
  /** @internal */
  next: WaitQueueNode<T> | undefined;
  /** @internal */
  queued: boolean;
}

/**
 * FIFO queue as a doubly linked list: `push`, `shift` and `remove` are all
 * O(1), so a queue of 100,000 waiters costs the same per operation as a queue
 * of ten, and a waiter that times out or is aborted leaves from the middle
 * without a scan.
 */
export class WaitQueue<T> {
  private head: WaitQueueNode<T> | undefined;
  private tail: WaitQueueNode<T> | undefined;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(value: T): WaitQueueNode<T> {
    const node: WaitQueueNode<T> = {
      value,
      previous: this.tail,
      next: undefined,
      queued: true,
    };
    if (this.tail) this.tail.next = node;
    else this.head = node;
    this.tail = node;
    this.size += 1;
    return node;
  }

  shift(): T | undefined {
    const node = this.head;
    if (!node) return undefined;
    this.remove(node);
    return node.value;
  }

  peek(): T | undefined {
    return this.head?.value;
  }

  /** Removes a node; returns false when it had already left the queue. */
  remove(node: WaitQueueNode<T>): boolean {
    if (!node.queued) return false;
    if (node.previous) node.previous.next = node.next;
    else this.head = node.next;
    if (node.next) node.next.previous = node.previous;
    else this.tail = node.previous;
    node.previous = undefined;
    node.next = undefined;
    node.queued = false;
    this.size -= 1;
    return true;
  }

  /** Removes and returns every value, oldest first. */
  drain(): T[] {
    // Loop on the head, not on shift() !== undefined, so that an undefined
    // value does not end the drain early.
    const values: T[] = [];
    while (this.head) {
      const node = this.head;
      this.remove(node);
      values.push(node.value);
    }
    return values;
  }
}
