package dev.lora4j.io.gguf;

import dev.lora4j.io.AtomicFiles;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a GGUF version 3 file, atomically: metadata in the order given, then tensor infos, then the data
 * section, every tensor at a multiple of 32 bytes. Dims are given outermost first (as PyTorch's shape)
 * and written innermost first, as GGUF lists them. Tensor bytes are produced while writing, one tensor
 * at a time, so a model is never held twice.
 */
public final class GgufWriter {
    static final int ALIGNMENT = 32;

    /** A tensor's bytes, produced when the writer reaches it. */
    @FunctionalInterface
    public interface Bytes {
        byte[] get();
    }

    private record Pending(String name, long[] shape, GgmlType type, long size, Bytes bytes) {}

    private final Map<String, Object> metadata = new LinkedHashMap<>();
    private final List<Pending> tensors = new ArrayList<>();

    /** A metadata value: String, Boolean, Integer (u32), Long (u64), Float (f32), String[], int[] (i32 array), float[] (f32 array). */
    public GgufWriter put(String key, Object value) {
        metadata.put(key, value);
        return this;
    }

    /** A tensor of the given shape (outermost first) and type; {@code bytes} must give exactly the type's size of it. */
    public GgufWriter tensor(String name, long[] shape, GgmlType type, Bytes bytes) {
        long n = 1;
        for (long d : shape) n *= d;
        tensors.add(new Pending(name, shape.clone(), type, type.bytes(n), bytes));
        return this;
    }

    public void write(Path target) throws IOException {
        AtomicFiles.write(target, out -> {
            Sink s = new Sink(new BufferedOutputStream(out, 1 << 20));
            s.u32(GgufFile.MAGIC);
            s.u32(3);
            s.u64(tensors.size());
            s.u64(metadata.size());
            for (var e : metadata.entrySet()) {
                s.string(e.getKey());
                s.value(e.getKey(), e.getValue());
            }
            long offset = 0;
            for (Pending t : tensors) {
                s.string(t.name);
                s.u32(t.shape.length);
                for (int d = t.shape.length - 1; d >= 0; d--) s.u64(t.shape[d]);
                s.u32(t.type.id);
                s.u64(offset);
                offset = align(offset + t.size);
            }
            s.pad();
            for (Pending t : tensors) {
                byte[] b = t.bytes.get();
                if (b.length != t.size) throw new IllegalStateException(t.name + ": " + b.length + " bytes, expected " + t.size);
                s.bytes(b);
                s.pad();
            }
            s.out.flush();
        });
    }

    static long align(long n) {
        return (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    private static final class Sink {
        final OutputStream out;
        final ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        long written;

        Sink(OutputStream out) {
            this.out = out;
        }

        void bytes(byte[] a) throws IOException {
            out.write(a);
            written += a.length;
        }

        void u32(long v) throws IOException {
            b.clear().putInt((int) v);
            bytes(java.util.Arrays.copyOf(b.array(), 4));
        }

        void u64(long v) throws IOException {
            b.clear().putLong(v);
            bytes(b.array().clone());
        }

        void f32(float v) throws IOException {
            b.clear().putFloat(v);
            bytes(java.util.Arrays.copyOf(b.array(), 4));
        }

        void string(String s) throws IOException {
            byte[] a = s.getBytes(StandardCharsets.UTF_8);
            u64(a.length);
            bytes(a);
        }

        void pad() throws IOException {
            bytes(new byte[(int) (align(written) - written)]);
        }

        void value(String key, Object v) throws IOException {
            switch (v) {
                case String s -> { u32(8); string(s); }
                case Boolean z -> { u32(7); bytes(new byte[] {(byte) (z ? 1 : 0)}); }
                case Integer i -> { u32(4); u32(i); }
                case Long l -> { u32(10); u64(l); }
                case Float f -> { u32(6); f32(f); }
                case String[] a -> { u32(9); u32(8); u64(a.length); for (String s : a) string(s); }
                case int[] a -> { u32(9); u32(5); u64(a.length); for (int i : a) u32(i); }
                case float[] a -> { u32(9); u32(6); u64(a.length); for (float f : a) f32(f); }
                default -> throw new IllegalArgumentException(key + ": GGUF metadata of type " + v.getClass().getSimpleName());
            }
        }
    }
}
