package dev.lora4j.tensor;

import dev.lora4j.quant.QuantizedMatrix;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A tensor: a shape over a little-endian memory segment, which is a heap array, off-heap memory, or a
 * view into a memory-mapped safetensors file (never copied). Elements are fp32, or bf16 kept as
 * stored (a bf16 checkpoint's view; read through {@link #mat()}, which widens exactly). Immutable in
 * shape; the data is the caller's to write when it is heap memory.
 *
 * <p>A frozen 2-D weight may be held quantized instead ({@code quant}, rows = outputs; {@code data} is
 * then empty): reads dequantize it, kernels dequantize the spans they use.
 */
public record Tensor(String name, int[] shape, MemorySegment data, DType dtype, QuantizedMatrix quant) {

    public Tensor {
        shape = shape.clone();
        long n = numel(shape);
        if (dtype != DType.F32 && dtype != DType.BF16) throw new IllegalArgumentException(name + ": tensors hold F32 or BF16, not " + dtype);
        if (quant != null) {
            if (shape.length != 2 || shape[0] != quant.rows() || shape[1] != quant.cols())
                throw new IllegalArgumentException(name + ": shape " + Arrays.toString(shape) + " for a quantized " + quant.rows() + "x" + quant.cols());
        } else if (data.byteSize() != n * dtype.bytes)
            throw new IllegalArgumentException(name + ": " + data.byteSize() + " bytes for shape " + Arrays.toString(shape) + " of " + dtype);
    }

    /** A tensor over a segment. */
    public Tensor(String name, int[] shape, MemorySegment data, DType dtype) {
        this(name, shape, data, dtype, null);
    }

    /** A quantized weight (rows = outputs, cols = inputs). */
    public static Tensor quantized(String name, QuantizedMatrix q) {
        return new Tensor(name, new int[] {q.rows(), q.cols()}, MemorySegment.NULL, DType.F32, q);
    }

    /** An fp32 tensor. */
    public Tensor(String name, int[] shape, MemorySegment data) {
        this(name, shape, data, DType.F32);
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

    /** Bytes the data occupies. */
    public long byteSize() {
        return quant != null ? quant.byteSize() : data.byteSize();
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
        if (quant == null && dtype == DType.F32 && data.heapBase().orElse(null) instanceof float[] a && a.length == numel() && data.address() == 0) return a;
        return null;
    }

    /** The data as a float[]: the backing array itself when heap-backed, else a copy. */
    public float[] toArray() {
        float[] a = heapArray();
        if (a != null) return a;
        float[] out = new float[Math.toIntExact(numel())];
        if (quant != null) {
            for (int r = 0; r < quant.rows(); r++) quant.dequantize(r, 0, out, r * quant.cols(), quant.cols(), false);
        } else {
            dtype.toFloats(data, 0, out, out.length);
        }
        return out;
    }

    /** The tensor as a row-major matrix (dims before the last folded into rows). */
    public Mat mat() {
        if (quant != null) return Mat.of(quant);
        int cols = shape.length == 0 ? 1 : shape[shape.length - 1];
        int rows = cols == 0 ? 0 : (int) (numel() / cols);
        float[] a = heapArray();
        return a != null ? Mat.of(a, 0, rows, cols) : Mat.of(data, 0, rows, cols, dtype);
    }

    /** Element i (row-major), as fp32. */
    public float get(long i) {
        if (quant != null) return quant.get((int) (i / quant.cols()), (int) (i % quant.cols()));
        return dtype == DType.BF16 ? DType.bf16At(data, i) : data.getAtIndex(Mat.F32, i);
    }


    public String shapeString() {
        return Arrays.toString(shape);
    }
}
