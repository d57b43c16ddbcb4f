package dev.lora4j.io.gguf;

import dev.lora4j.Lora4jException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (llama.cpp's format, version 2 or 3), memory-mapped: its metadata (key → value) and its
 * tensors, whose data is read in place. Every count and offset is checked against the file's size
 * before anything is allocated, so a corrupt or hostile file fails with its name and the field.
 *
 * <p>Layout: magic "GGUF", version u32, tensor count u64, metadata count u64; metadata as key
 * string, type u32, value; tensor infos as name, rank u32, dims u64 (innermost first), type u32,
 * offset u64; then the data section at the next multiple of {@code general.alignment} (32 by default).
 */
public final class GgufFile implements AutoCloseable {
    public static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A tensor: its name, dims as a GGUF file lists them (innermost first), type, and data (a view of the mapping). */
    public record TensorInfo(String name, long[] dims, GgmlType type, MemorySegment data) {
        public long numel() {
            long n = 1;
            for (long d : dims) n *= d;
            return n;
        }
    }

    private final Path path;
    private final Arena arena;
    private final Map<String, Object> metadata;
    private final Map<String, TensorInfo> tensors;

    private GgufFile(Path path, Arena arena, Map<String, Object> metadata, Map<String, TensorInfo> tensors) {
        this.path = path;
        this.arena = arena;
        this.metadata = metadata;
        this.tensors = tensors;
    }

    public static GgufFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            Reader r = new Reader(path, all);
            if (all.byteSize() < 24 || all.get(U32, 0) != MAGIC) throw r.bad("not a GGUF file (no \"GGUF\" magic at the start)");
            r.at = 4;
            int version = r.u32("version");
            if (version != 2 && version != 3) throw r.bad("GGUF version " + version + " (lora4j reads versions 2 and 3)");
            long nTensors = r.count("tensor count", 8 + 4 + 8), nKv = r.count("metadata count", 8 + 4);
            Map<String, Object> metadata = new LinkedHashMap<>();
            for (long i = 0; i < nKv; i++) {
                String key = r.string("metadata key " + i);
                metadata.put(key, r.value(key, r.u32(key + " type"), 0));
            }
            long alignment = metadata.get("general.alignment") instanceof Number n ? n.longValue() : 32;
            if (alignment < 1 || alignment > 1 << 20 || Long.bitCount(alignment) != 1) throw r.bad("general.alignment " + alignment + " is not a power of two");
            List<Object[]> infos = new ArrayList<>();
            for (long i = 0; i < nTensors; i++) {
                String name = r.string("tensor name " + i);
                int rank = r.u32(name + " rank");
                if (rank < 1 || rank > 4) throw r.bad("tensor '" + name + "' has rank " + rank + " (expected 1 to 4)");
                long[] dims = new long[rank];
                for (int d = 0; d < rank; d++) {
                    dims[d] = r.u64(name + " dim");
                    if (dims[d] < 1 || dims[d] > Integer.MAX_VALUE) throw r.bad("tensor '" + name + "' has dimension " + dims[d]);
                }
                int typeId = r.u32(name + " type");
                GgmlType type = GgmlType.of(typeId);
                if (type == null) throw r.bad("tensor '" + name + "' has ggml type " + typeId + " (lora4j reads F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K)");
                infos.add(new Object[] {name, dims, type, r.u64(name + " offset")});
            }
            long dataStart = (r.at + alignment - 1) / alignment * alignment;
            Map<String, TensorInfo> tensors = new LinkedHashMap<>();
            for (Object[] info : infos) {
                String name = (String) info[0];
                long[] dims = (long[]) info[1];
                GgmlType type = (GgmlType) info[2];
                long offset = (long) info[3], n = 1;
                for (long d : dims) n = Math.multiplyExact(n, d);
                if (dims[0] % type.blockSize != 0) throw r.bad("tensor '" + name + "': rows of " + dims[0] + " are not whole " + type + " blocks");
                long bytes = type.bytes(n);
                if (offset < 0 || offset % alignment != 0 || dataStart + offset + bytes > all.byteSize())
                    throw r.bad("tensor '" + name + "' at offset " + offset + " (" + bytes + " bytes) lies outside the file or off the alignment");
                if (tensors.put(name, new TensorInfo(name, dims, type, all.asSlice(dataStart + offset, bytes))) != null)
                    throw r.bad("tensor '" + name + "' is listed twice");
            }
            return new GgufFile(path, arena, Collections.unmodifiableMap(metadata), Collections.unmodifiableMap(tensors));
        } catch (IOException e) {
            arena.close();
            throw new Lora4jException(path + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public Map<String, Object> metadata() {
        return metadata;
    }

    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** A metadata value that must be present, of the given type. */
    public <T> T require(String key, Class<T> type) {
        Object v = metadata.get(key);
        if (v == null) throw new Lora4jException(path + ": missing metadata '" + key + "'");
        if (!type.isInstance(v)) throw new Lora4jException(path + ": metadata '" + key + "' is " + v.getClass().getSimpleName() + ", expected " + type.getSimpleName());
        return type.cast(v);
    }

    /** An integer metadata value that must be present. */
    public int integer(String key) {
        long v = require(key, Number.class).longValue();
        if (v < 0 || v > Integer.MAX_VALUE) throw new Lora4jException(path + ": metadata '" + key + "' is " + v + ", out of range");
        return (int) v;
    }

    @Override
    public void close() {
        arena.close();
    }

    /** A bounds-checked cursor over the mapped file. */
    private static final class Reader {
        final Path path;
        final MemorySegment all;
        long at;

        Reader(Path path, MemorySegment all) {
            this.path = path;
            this.all = all;
        }

        Lora4jException bad(String why) {
            return new Lora4jException(path + ": " + why);
        }

        void need(long bytes, String what) {
            if (bytes < 0 || at + bytes > all.byteSize()) throw bad(what + " at byte " + at + " runs past the end of the file (" + all.byteSize() + " bytes)");
        }

        int u32(String what) {
            need(4, what);
            int v = all.get(U32, at);
            at += 4;
            return v;
        }

        long u64(String what) {
            need(8, what);
            long v = all.get(U64, at);
            at += 8;
            return v;
        }

        /** A count of items each at least {@code minBytes} long: more than the file could hold is refused before allocating. */
        long count(String what, long minBytes) {
            long n = u64(what);
            if (n < 0 || n > (all.byteSize() - at) / minBytes) throw bad(what + " " + Long.toUnsignedString(n) + " is more than the file can hold");
            return n;
        }

        String string(String what) {
            long n = u64(what + " length");
            need(n, what);
            if (n > 1 << 20) throw bad(what + " is " + n + " bytes long");
            String s = new String(all.asSlice(at, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            at += n;
            return s;
        }

        /** A metadata value of GGUF type {@code type}: numbers boxed, strings, arrays as primitive arrays or String[]. */
        Object value(String key, int type, int depth) {
            return switch (type) {
                case 0, 1 -> { need(1, key); yield (long) (type == 0 ? all.get(ValueLayout.JAVA_BYTE, at++) & 0xff : all.get(ValueLayout.JAVA_BYTE, at++)); }
                case 2, 3 -> { need(2, key); short s = all.get(U16, at); at += 2; yield (long) (type == 2 ? s & 0xffff : s); }
                case 4 -> (long) u32(key) & 0xffffffffL;
                case 5 -> (long) u32(key);
                case 6 -> { need(4, key); float f = all.get(F32, at); at += 4; yield f; }
                case 7 -> { need(1, key); yield all.get(ValueLayout.JAVA_BYTE, at++) != 0; }
                case 8 -> string(key);
                case 9 -> array(key, depth);
                case 10, 11 -> u64(key);
                case 12 -> { need(8, key); double d = all.get(F64, at); at += 8; yield d; }
                default -> throw bad("metadata '" + key + "' has value type " + type + " (expected 0 to 12)");
            };
        }

        private Object array(String key, int depth) {
            if (depth > 2) throw bad("metadata '" + key + "' nests arrays too deeply");
            int type = u32(key + " element type");
            long n = count(key + " length", 1);
            if (n > Integer.MAX_VALUE - 8) throw bad(key + " has " + n + " elements");
            int len = (int) n;
            return switch (type) {
                case 8 -> {
                    String[] s = new String[len];
                    for (int i = 0; i < len; i++) s[i] = string(key + "[" + i + "]");
                    yield s;
                }
                case 6 -> {
                    need(4L * len, key);
                    float[] f = new float[len];
                    MemorySegment.copy(all, F32, at, f, 0, len);
                    at += 4L * len;
                    yield f;
                }
                default -> {
                    if (type == 9) throw bad("metadata '" + key + "' is an array of arrays");
                    long[] v = new long[len];
                    for (int i = 0; i < len; i++) {
                        Object o = value(key, type, depth + 1);
                        v[i] = o instanceof Number num ? num.longValue() : (Boolean) o ? 1 : 0;
                    }
                    yield v;
                }
            };
        }
    }
}
