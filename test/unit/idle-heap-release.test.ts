// When a worker gives V8's heap back: only once it has been idle (no connection open, nothing
// served) for a whole check interval, only after the heap grew, and never while it serves.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IdleHeapRelease } from '../../proxy/worker/idle-heap-release';

const MiB = 1024 * 1024;

/** ~16 MiB of objects. */
function growHeap(): unknown[] {
  return Array.from({ length: 16 }, () => Array.from({ length: 32 * 1024 }, (_, i) => ({ i })));
}

describe('IdleHeapRelease', () => {
  it("gets V8's own full GC by default", () => {
    const release = new IdleHeapRelease();
    let garbage: unknown[] | null = [growHeap(), growHeap()];
    const withGarbage = process.memoryUsage().heapUsed;
    garbage = null;
    release.check(0, 0);
    release.check(0, 0);
    assert.equal(garbage, null);
    assert.ok(process.memoryUsage().heapUsed < withGarbage - 16 * MiB, 'the garbage was collected');
  });

  it('collects twice once the worker was idle across a whole interval after its heap grew, then not again until it grows', () => {
    let collections = 0;
    let heap = 10 * MiB;
    const release = new IdleHeapRelease(() => collections++, () => heap);
    heap += 6 * MiB;
    release.check(0, 7); // first seen idle: it may have served just before
    assert.equal(collections, 0);
    release.check(0, 7);
    assert.equal(collections, 2);
    release.check(0, 7);
    release.check(0, 7);
    assert.equal(collections, 2, 'no growth since the release');
    heap += 6 * MiB;
    release.check(0, 7);
    assert.equal(collections, 4);
  });

  it('never collects while a connection is open or requests are being served', () => {
    let collections = 0;
    let heap = 10 * MiB;
    const release = new IdleHeapRelease(() => collections++, () => heap);
    heap += 6 * MiB;
    for (let served = 0; served < 5; served++) release.check(3, served); // connections open
    for (let served = 5; served < 10; served++) release.check(0, served); // short connections come and go
    release.check(1, 10);
    release.check(0, 10); // idle again: counted from here
    assert.equal(collections, 0);
    release.check(0, 10);
    assert.equal(collections, 2);
  });

  it('leaves a heap that did not grow to V8', () => {
    let collections = 0;
    let heap = 10 * MiB;
    const release = new IdleHeapRelease(() => collections++, () => heap);
    heap += 3 * MiB;
    for (let i = 0; i < 5; i++) release.check(0, 0);
    assert.equal(collections, 0);
  });
});
