package dev.lora4j.io.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import dev.lora4j.Lora4jException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An ONNX model file (protobuf, ModelProto), memory-mapped: its graph's nodes and its initializers, whose
 * data stay in the mapping (raw_data) or are copied out (float_data). Only what reading weights needs is
 * kept: a node's op type, inputs, outputs and tensor attributes (Constant values). Initializers stored in
 * external files (models over 2 GB) are refused by name.
 *
 * <p>Field numbers are ONNX's (onnx.proto3): ModelProto.graph 7; GraphProto.node 1, initializer 5;
 * NodeProto.input 1, output 2, name 3, op_type 4, attribute 5; AttributeProto.name 1, t 5; TensorProto.dims 1,
 * data_type 2, float_data 4, int64_data 7, name 8, raw_data 9, data_location 14.
 */
public final class OnnxFile implements AutoCloseable {
    /** TensorProto.DataType values read here. */
    public static final int FLOAT = 1, INT64 = 7;

    /**
     * A tensor: its dims, element type, and data (little-endian, as ONNX stores it); fileOffset is where raw_data
     * starts in the file (−1 when the values are in float_data or int64_data), for rewriting them in place.
     */
    public record Initializer(String name, long[] dims, int dataType, MemorySegment data, long fileOffset) {
        public long numel() {
            long n = 1;
            for (long d : dims) n *= d;
            return n;
        }

        /** The values of an INT64 tensor. */
        public long[] longs() {
            if (dataType != INT64) throw new Lora4jException("ONNX tensor '" + name + "' is not int64 (data_type " + dataType + ")");
            long[] v = new long[(int) numel()];
            for (int i = 0; i < v.length; i++) v[i] = data.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i);
            return v;
        }

        /** The values of a FLOAT tensor. */
        public float[] floats() {
            if (dataType != FLOAT) throw new Lora4jException("ONNX tensor '" + name + "' is not float32 (data_type " + dataType + ")");
            float[] v = new float[(int) numel()];
            MemorySegment.copy(data, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, v, 0, v.length);
            return v;
        }
    }

    /** A graph node; {@code tensors} holds its tensor-valued attributes (a Constant's "value") by name. */
    public record Node(String name, String opType, List<String> inputs, List<String> outputs, Map<String, Initializer> tensors) {}

    private final Path path;
    private final Arena arena;
    private final Map<String, Initializer> initializers = new LinkedHashMap<>();
    private final List<Node> nodes = new ArrayList<>();

    private OnnxFile(Path path, Arena arena) {
        this.path = path;
        this.arena = arena;
    }

    public static OnnxFile open(Path path) {
        Arena arena = Arena.ofShared();
        OnnxFile f = new OnnxFile(path, arena);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > Integer.MAX_VALUE) throw new Lora4jException(path + ": ONNX files over 2 GB keep their weights in external data files, which are not read");
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            CodedInputStream in = CodedInputStream.newInstance(all.asByteBuffer());
            in.setSizeLimit(Integer.MAX_VALUE);
            boolean graph = false;
            for (int tag; (tag = in.readTag()) != 0; ) {
                if (WireFormat.getTagFieldNumber(tag) == 7 && WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                    int limit = in.pushLimit(in.readRawVarint32());
                    f.readGraph(in, all);
                    in.popLimit(limit);
                    graph = true;
                } else in.skipField(tag);
            }
            if (!graph) throw new Lora4jException(path + ": not an ONNX model (no graph)");
            return f;
        } catch (IOException | RuntimeException e) {
            arena.close();
            if (e instanceof Lora4jException le) throw le;
            throw new Lora4jException(path + ": not a readable ONNX model (" + e.getMessage() + ")");
        }
    }

    private void readGraph(CodedInputStream in, MemorySegment file) throws IOException {
        for (int tag; (tag = in.readTag()) != 0; ) {
            int field = WireFormat.getTagFieldNumber(tag);
            if (field == 5 || field == 1) {
                int limit = in.pushLimit(in.readRawVarint32());
                if (field == 5) {
                    Initializer t = readTensor(in, file);
                    initializers.put(t.name(), t);
                } else nodes.add(readNode(in, file));
                in.popLimit(limit);
            } else in.skipField(tag);
        }
    }

    private Node readNode(CodedInputStream in, MemorySegment file) throws IOException {
        String name = "", op = "";
        List<String> inputs = new ArrayList<>(), outputs = new ArrayList<>();
        Map<String, Initializer> tensors = new LinkedHashMap<>();
        for (int tag; (tag = in.readTag()) != 0; ) {
            switch (WireFormat.getTagFieldNumber(tag)) {
                case 1 -> inputs.add(in.readStringRequireUtf8());
                case 2 -> outputs.add(in.readStringRequireUtf8());
                case 3 -> name = in.readStringRequireUtf8();
                case 4 -> op = in.readStringRequireUtf8();
                case 5 -> {
                    int limit = in.pushLimit(in.readRawVarint32());
                    String attr = "";
                    Initializer t = null;
                    for (int atag; (atag = in.readTag()) != 0; ) {
                        int af = WireFormat.getTagFieldNumber(atag);
                        if (af == 1) attr = in.readStringRequireUtf8();
                        else if (af == 5) {
                            int l2 = in.pushLimit(in.readRawVarint32());
                            t = readTensor(in, file);
                            in.popLimit(l2);
                        } else in.skipField(atag);
                    }
                    if (t != null) tensors.put(attr, t);
                    in.popLimit(limit);
                }
                default -> in.skipField(tag);
            }
        }
        return new Node(name, op, List.copyOf(inputs), List.copyOf(outputs), Map.copyOf(tensors));
    }

    private Initializer readTensor(CodedInputStream in, MemorySegment file) throws IOException {
        String name = "";
        List<Long> dims = new ArrayList<>();
        int type = 0;
        MemorySegment data = null;
        long offset = -1;
        List<Float> floats = null;
        List<Long> longs = null;
        boolean external = false;
        for (int tag; (tag = in.readTag()) != 0; ) {
            int field = WireFormat.getTagFieldNumber(tag), wire = WireFormat.getTagWireType(tag);
            switch (field) {
                case 1 -> {
                    if (wire == WireFormat.WIRETYPE_LENGTH_DELIMITED) { // packed
                        int limit = in.pushLimit(in.readRawVarint32());
                        while (in.getBytesUntilLimit() > 0) dims.add(in.readInt64());
                        in.popLimit(limit);
                    } else dims.add(in.readInt64());
                }
                case 2 -> type = in.readInt32();
                case 4 -> {
                    if (floats == null) floats = new ArrayList<>();
                    if (wire == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                        int limit = in.pushLimit(in.readRawVarint32());
                        while (in.getBytesUntilLimit() > 0) floats.add(in.readFloat());
                        in.popLimit(limit);
                    } else floats.add(in.readFloat());
                }
                case 7 -> {
                    if (longs == null) longs = new ArrayList<>();
                    if (wire == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                        int limit = in.pushLimit(in.readRawVarint32());
                        while (in.getBytesUntilLimit() > 0) longs.add(in.readInt64());
                        in.popLimit(limit);
                    } else longs.add(in.readInt64());
                }
                case 8 -> name = in.readStringRequireUtf8();
                case 9 -> { // raw_data: left in the mapping
                    int n = in.readRawVarint32();
                    long at = in.getTotalBytesRead();
                    data = file.asSlice(at, n);
                    offset = at;
                    in.skipRawBytes(n);
                }
                case 14 -> external = in.readEnum() == 1;
                default -> in.skipField(tag);
            }
        }
        if (external) throw new Lora4jException(path + ": tensor '" + name + "' is stored in an external data file, which is not read");
        long[] d = dims.stream().mapToLong(Long::longValue).toArray();
        if (data == null && floats != null) {
            data = arena.allocate(4L * floats.size());
            for (int i = 0; i < floats.size(); i++) data.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, floats.get(i));
        } else if (data == null && longs != null) {
            data = arena.allocate(8L * longs.size());
            for (int i = 0; i < longs.size(); i++) data.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, longs.get(i));
        } else if (data == null) data = MemorySegment.NULL;
        Initializer t = new Initializer(name, d, type, data, offset);
        long bytes = (type == INT64 ? 8L : type == FLOAT ? 4L : 0L) * t.numel();
        if (bytes > 0 && data.byteSize() != bytes)
            throw new Lora4jException(path + ": tensor '" + name + "' holds " + data.byteSize() + " bytes for dims " + java.util.Arrays.toString(d) + " (" + bytes + " expected)");
        return t;
    }

    public Path path() {
        return path;
    }

    public Map<String, Initializer> initializers() {
        return initializers;
    }

    public List<Node> nodes() {
        return nodes;
    }

    @Override
    public void close() {
        arena.close();
    }
}
