/** The GPU runner's tensor store on Dawn (Node): stable buffers across frames, read-back, ownership. */
import { afterAll, describe, expect, it } from 'vitest';
import { createGpuTensorStore } from '../../src/runtime/gpu-tensor-store';
import { createTestGpu, takeUncapturedErrors } from '../helpers/node-gpu';

describe('createGpuTensorStore', async () => {
  const { device } = await createTestGpu();
  afterAll(() => device.destroy());

  it('keeps one buffer per name while tensors fit (a smaller patch count reuses it) and reads back exactly', async () => {
    const store = createGpuTensorStore(device, 'test-store');
    const two = store.reserve('query_pos', [20, 1, 256]);
    const one = store.reserve('query_pos', [10, 1, 256]);
    expect(one.buffer).toBe(two.buffer);
    expect(one.dims).toEqual([10, 1, 256]);
    const three = store.reserve('query_pos', [30, 1, 256]);
    expect(three.buffer).not.toBe(two.buffer);
    expect(store.stats().ownedBuffers).toBe(1);

    const data = Float32Array.from({ length: 6 }, (_, i) => i / 3);
    store.upload('image', { data, dims: [1, 2, 3] });
    const firstBuffer = store.get('image').buffer;
    store.upload('image', { data: data.map((v) => -v), dims: [1, 2, 3] });
    expect(store.get('image').buffer).toBe(firstBuffer);
    const out = await store.read(['image']);
    expect(out.image?.dims).toEqual([1, 2, 3]);
    expect([...(out.image?.data ?? [])]).toEqual([...data.map((v) => -v)]);
    const again = await store.read(['image']);
    expect(store.stats().ownedBuffers).toBe(3); // query_pos, image, image's staging buffer: nothing new per read
    expect([...(again.image?.data ?? [])]).toEqual([...(out.image?.data ?? [])]);
    store.dispose();
    expect(takeUncapturedErrors()).toEqual([]);
  });

  it('never destroys a caller buffer and throws InputError for tensors nothing produced', async () => {
    const store = createGpuTensorStore(device, 'test-store');
    const callerBuffer = device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(callerBuffer, 0, new Float32Array([1, 2, 3, 4]));
    store.bindExternal('image', { buffer: callerBuffer, dims: [4] });
    expect(() => store.get('memory')).toThrow(/was not produced/);
    store.dispose();
    const out = createGpuTensorStore(device, 'test-store');
    out.bindExternal('image', { buffer: callerBuffer, dims: [4] });
    expect([...((await out.read(['image'])).image?.data ?? [])]).toEqual([1, 2, 3, 4]); // still alive after the first store's dispose
    out.dispose();
    callerBuffer.destroy();
    expect(takeUncapturedErrors()).toEqual([]);
  });

  it('reset() drops every owned, staging and managed buffer (after a GPU error) and the store works on fresh ones', async () => {
    const store = createGpuTensorStore(device, 'test-store');
    const data = Float32Array.from([1, 2, 3, 4]);
    store.upload('image', { data, dims: [4] });
    await store.read(['image']);
    const before = store.get('image').buffer;
    let released = 0;
    const managed = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
    store.bindManaged('logits', { buffer: managed, dims: [4] }, () => released++);
    store.reset();
    expect(store.stats()).toEqual({ ownedBuffers: 0, ownedBytes: 0 });
    expect(store.has('image')).toBe(false);
    expect(released).toBe(1);
    store.upload('image', { data, dims: [4] });
    expect(store.get('image').buffer).not.toBe(before);
    expect([...((await store.read(['image'])).image?.data ?? [])]).toEqual([1, 2, 3, 4]);
    store.dispose();
    managed.destroy();
    expect(takeUncapturedErrors()).toEqual([]);
  });
});
