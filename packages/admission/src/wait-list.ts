/** Links an item carries to sit in a WaitList (intrusive: no node objects besides the items). */
export interface Linked<T> {
  prev: T | undefined;
  next: T | undefined;
  /** False once removed, so a late timeout or abort cannot remove it twice. */
  linked: boolean;
}

/** FIFO with O(1) removal from the middle: waiters leave on timeout or abort, not only at the head. */
export class WaitList<T extends Linked<T>> {
  private head: T | undefined;
  private tail: T | undefined;
  private size = 0;

  get length(): number {
    return this.size;
  }

  peek(): T | undefined {
    return this.head;
  }

  push(item: T): void {
    item.prev = this.tail;
    item.next = undefined;
    item.linked = true;
    if (this.tail) this.tail.next = item;
    else this.head = item;
    this.tail = item;
    this.size++;
  }

  remove(item: T): void {
    if (!item.linked) return;
    item.linked = false;
    if (item.prev) item.prev.next = item.next;
    else this.head = item.next;
    if (item.next) item.next.prev = item.prev;
    else this.tail = item.prev;
    item.prev = item.next = undefined;
    this.size--;
  }
}
