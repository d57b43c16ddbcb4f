package dev.lora4j.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.Lora4jException;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;

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
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One memory-mapped .safetensors file: an 8-byte little-endian header length N, N bytes of JSON
 * ({@code name -> {dtype, shape, data_offsets}}, plus optional {@code __metadata__}), then the data.
 * Everything in the header is validated on open; any defect is a {@link Lora4jException} naming the
 * file and the tensor. F32 tensors are returned as views of the mapping; F16/BF16 are widened to fp32.
 */
public final class SafeTensors implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper().enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    private static final long MAX_HEADER = 100L << 20;

    public record Entry(String name, DType dtype, int[] shape, long begin, long end) {
        public long numel() {
            return Tensor.numel(shape);
        }
    }

    private final Path path;
    private final Arena arena;
    private final MemorySegment data;
    private final long dataStart; // the data's position in the file
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafeTensors(Path path, Arena arena, MemorySegment data, long dataStart, Map<String, Entry> entries, Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.dataStart = dataStart;
        this.data = data;
        this.entries = entries;
        this.metadata = metadata;
    }

    public static SafeTensors open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw bad(path, "file is " + size + " bytes, shorter than the 8-byte header length");
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long n = all.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (n < 2 || n > size - 8 || n > MAX_HEADER)
                throw bad(path, "header length " + n + " does not fit in a file of " + size + " bytes (truncated or not safetensors)");
            byte[] header = all.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
            MemorySegment data = all.asSlice(8 + n);
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, Entry> entries = parseHeader(path, new String(header, StandardCharsets.UTF_8), data.byteSize(), metadata);
            return new SafeTensors(path, arena, data, 8 + n, entries, metadata);
        } catch (IOException e) {
            arena.close();
            throw new Lora4jException(path + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Map<String, Entry> parseHeader(Path path, String header, long dataSize, Map<String, String> metadata) {
        JsonNode root;
        try {
            root = JSON.readTree(header);
        } catch (JsonProcessingException e) {
            throw bad(path, "header is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject() || !header.startsWith("{")) throw bad(path, "header must be a JSON object");
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (var it = root.properties().iterator(); it.hasNext(); ) {
            var field = it.next();
            String name = field.getKey();
            JsonNode v = field.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) throw bad(path, "__metadata__ must be an object of strings");
                for (var m : v.properties()) {
                    if (!m.getValue().isTextual()) throw bad(path, "__metadata__ '" + m.getKey() + "' must be a string, got " + m.getValue());
                    metadata.put(m.getKey(), m.getValue().asText());
                }
                continue;
            }
            entries.put(name, parseEntry(path, name, v, dataSize));
        }
        // as the reference implementation: the tensors lie end to end and cover the data section exactly
        List<Entry> sorted = new ArrayList<>(entries.values());
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long at = 0;
        String before = null;
        for (Entry e : sorted) {
            if (e.begin() != at)
                throw bad(path, "tensor '" + e.name() + "' starts at byte " + e.begin() + " of the data section, expected " + at
                        + (e.begin() < at ? " (it overlaps '" + before + "')" : " (a gap before it)"));
            at = e.end();
            before = e.name();
        }
        if (at != dataSize) throw bad(path, "the tensors end at byte " + at + " of a data section of " + dataSize + " bytes (trailing bytes)");
        return Collections.unmodifiableMap(entries);
    }

    private static Entry parseEntry(Path path, String name, JsonNode v, long dataSize) {
        String where = "tensor '" + name + "'";
        if (!v.isObject()) throw bad(path, where + ": expected an object with dtype, shape, data_offsets");
        JsonNode dt = v.get("dtype"), sh = v.get("shape"), off = v.get("data_offsets");
        if (dt == null || !dt.isTextual()) throw bad(path, where + ": missing dtype");
        DType dtype = DType.parse(dt.asText());
        if (dtype == null) throw bad(path, where + ": unsupported dtype '" + dt.asText() + "' (expected F32, F16 or BF16)");
        if (sh == null || !sh.isArray()) throw bad(path, where + ": missing shape array");
        int[] shape = new int[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            if (!sh.get(i).isIntegralNumber() || !sh.get(i).canConvertToInt() || sh.get(i).asInt() < 0)
                throw bad(path, where + ": shape must hold non-negative integers, got " + sh);
            shape[i] = sh.get(i).asInt();
        }
        if (off == null || !off.isArray() || off.size() != 2 || !off.get(0).isIntegralNumber() || !off.get(1).isIntegralNumber()
                || !off.get(0).canConvertToLong() || !off.get(1).canConvertToLong())
            throw bad(path, where + ": data_offsets must be [begin, end]");
        long begin = off.get(0).asLong(), end = off.get(1).asLong();
        if (begin < 0 || end < begin || end > dataSize)
            throw bad(path, where + ": data_offsets [" + begin + ", " + end + "] out of range (data section is " + dataSize + " bytes)");
        long expected;
        try {
            long numel = 1;
            for (int d : shape) numel = Math.multiplyExact(numel, d);
            expected = Math.multiplyExact(numel, dtype.bytes);
        } catch (ArithmeticException e) {
            throw bad(path, where + ": shape " + sh + " holds more elements than a file can");
        }
        if (end - begin != expected)
            throw bad(path, where + ": " + (end - begin) + " bytes for shape " + sh + " of " + dtype + ", expected " + expected);
        return new Entry(name, dtype, shape, begin, end);
    }

    private static Lora4jException bad(Path path, String what) {
        return new Lora4jException(path + ": malformed safetensors: " + what);
    }

    public Path path() {
        return path;
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public boolean has(String name) {
        return entries.containsKey(name);
    }

    public Entry entry(String name) {
        Entry e = entries.get(name);
        if (e == null) throw new Lora4jException(path + ": no tensor '" + name + "'");
        return e;
    }

    /** The raw bytes of a tensor, as stored. */
    public MemorySegment raw(String name) {
        Entry e = entry(name);
        return data.asSlice(e.begin(), e.end() - e.begin());
    }

    /**
     * The tensor: a view of the mapping for F32 and BF16 (no copy; bf16 is widened where it is read),
     * a widened fp32 heap copy for F16.
     */
    public Tensor tensor(String name) {
        Entry e = entry(name);
        MemorySegment raw = raw(name);
        if (e.dtype() == DType.F32 || e.dtype() == DType.BF16) return new Tensor(name, e.shape(), raw, e.dtype());
        float[] a = new float[Math.toIntExact(e.numel())];
        e.dtype().toFloats(raw, 0, a, a.length);
        return Tensor.of(name, a, e.shape());
    }

    /**
     * Bytes [from, from + dst.length) of a tensor, read from the file with positional reads: they pass
     * through the page cache, never through this process's mapping, so they do not stay resident here.
     */
    public void read(String name, long from, byte[] dst) {
        Entry e = entry(name);
        if (from < 0 || from + dst.length > e.end() - e.begin()) throw new IndexOutOfBoundsException(name + ": bytes [" + from + ", " + (from + dst.length) + ")");
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(path, java.nio.file.StandardOpenOption.READ)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(dst);
            long at = dataStart + e.begin() + from;
            while (b.hasRemaining()) {
                int n = ch.read(b, at + b.position());
                if (n < 0) throw new Lora4jException(path + ": ends inside tensor '" + name + "'");
            }
        } catch (java.io.IOException ex) {
            throw new Lora4jException(path + ": cannot read tensor '" + name + "': " + ex.getMessage(), ex);
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
