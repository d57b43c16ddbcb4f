package dev.lora4j.model;

import dev.lora4j.io.ModelFiles;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.quant.QuantizedMatrix;
import dev.lora4j.tensor.DType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The rows of a checkpoint matrix read from its file a chunk at a time, for quantizing at load: the
 * full-precision weights pass through the page cache and a small buffer, never through the mapping,
 * so quantizing a model does not leave its full-precision copy resident (what QLoRA's memory saving is
 * about). Rows are asked for in order. F32, BF16 and F16 files; any dtype widens exactly.
 */
final class FileRows implements QuantizedMatrix.RowSource {
    private static final int CHUNK_BYTES = 1 << 20;

    private final SafeTensors file;
    private final String name;
    private final DType dtype;
    private final int cols, rowsPerChunk;
    private final byte[] buffer;
    private int first = -1, count;

    /** Rows of the tensor {@code name} (rows, cols), row-major as stored. */
    FileRows(ModelFiles files, String name, int rows, int cols) {
        this.file = files.fileOf(name);
        this.name = name;
        this.dtype = file.entry(name).dtype();
        this.cols = cols;
        this.rowsPerChunk = Math.max(1, Math.min(rows, CHUNK_BYTES / (cols * dtype.bytes)));
        this.buffer = new byte[rowsPerChunk * cols * dtype.bytes];
    }

    /** Whether a tensor of this source can be read this way (a safetensors checkpoint, a dtype lora4j widens). */
    static boolean readable(dev.lora4j.io.WeightSource source, String name) {
        return source instanceof ModelFiles mf && mf.has(name);
    }

    @Override
    public void row(int r, float[] dst) {
        if (r < first || r >= first + count) {
            int rows = (int) (file.entry(name).numel() / cols);
            first = r;
            count = Math.min(rowsPerChunk, rows - r);
            byte[] b = count == rowsPerChunk ? buffer : new byte[count * cols * dtype.bytes];
            file.read(name, (long) r * cols * dtype.bytes, b);
            if (b != buffer) System.arraycopy(b, 0, buffer, 0, b.length);
        }
        dtype.toFloats(MemorySegment.ofArray(buffer), (long) (r - first) * cols * dtype.bytes, dst, cols);
    }

    /** The whole (rows, cols) tensor as floats in arena, read chunk by chunk (for GPT-2's Conv1D weights, quantized by columns). */
    MemorySegment all(int rows, Arena arena) {
        MemorySegment out = arena.allocate(ValueLayout.JAVA_FLOAT, Math.multiplyExact((long) rows, cols));
        float[] row = new float[cols];
        for (int r = 0; r < rows; r++) {
            row(r, row);
            MemorySegment.copy(row, 0, out, ValueLayout.JAVA_FLOAT, (long) r * cols * Float.BYTES, cols);
        }
        return out;
    }
}
