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

  /** The newest item (the tail), for inserting by rank from the back. */
  last(): T | undefined {
    return this.tail;
  }

  /** Puts `item` right after `anchor` (at the head when `anchor` is undefined). */
  insertAfter(item: T, anchor: T | undefined): void {
    if (!anchor) {
      item.prev = undefined;
      item.next = this.head;
      if (this.head) this.head.prev = item;
      else this.tail = item;
      this.head = item;
    } else {
      item.prev = anchor;
      item.next = anchor.next;
      if (anchor.next) anchor.next.prev = item;
      else this.tail = item;
      anchor.next = item;
    }
    item.linked = true;
    this.size++;
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
