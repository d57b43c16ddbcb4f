package dev.lora4j.tensor;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * An fp32 tensor: a shape over a little-endian memory segment, which is a heap array, off-heap
 * memory, or a view into a memory-mapped safetensors file (never copied). Immutable in shape;
 * the data is the caller's to write when it is heap memory.
 */
public record Tensor(String name, int[] shape, MemorySegment data) {

    public Tensor {
        shape = shape.clone();
        long n = numel(shape);
        if (data.byteSize() != n * 4)
            throw new IllegalArgumentException(name + ": " + data.byteSize() + " bytes for shape " + Arrays.toString(shape));
    }

    public static Tensor of(String name, float[] a, int... shape) {
        return new Tensor(name, shape, MemorySegment.ofArray(a));
    }

    public static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    public long numel() {
        return numel(shape);
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int i) {
        return shape[i];
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    /** The backing heap array when this tensor is exactly one float[]; otherwise null. */
    public float[] heapArray() {
        if (data.heapBase().orElse(null) instanceof float[] a && a.length == numel() && data.address() == 0) return a;
        return null;
    }

    /** The data as a float[]: the backing array itself when heap-backed, else a copy. */
    public float[] toArray() {
        float[] a = heapArray();
        if (a != null) return a;
        float[] out = new float[Math.toIntExact(numel())];
        MemorySegment.copy(data, Mat.F32, 0, out, 0, out.length);
        return out;
    }

    /** The tensor as a row-major matrix (dims before the last folded into rows). */
    public Mat mat() {
        int cols = shape.length == 0 ? 1 : shape[shape.length - 1];
        int rows = cols == 0 ? 0 : (int) (numel() / cols);
        float[] a = heapArray();
        return a != null ? Mat.of(a, 0, rows, cols) : Mat.of(data, 0, rows, cols);
    }

    public float get(long i) {
        return data.getAtIndex(Mat.F32, i);
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }
}
