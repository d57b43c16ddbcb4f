package dev.lora4j.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Writes a .safetensors file atomically: into a temporary file beside the target, fsynced, then
 * renamed over it, so a crash leaves either the old file or the new one, never half of one.
 * Entries are written in the given order: fp32 tensors narrowed to a dtype (round to nearest even),
 * or raw bytes copied unchanged (bit-identical copies of another file's tensors).
 */
public final class SafeTensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private SafeTensorsWriter() {}

    /** One tensor to write. */
    public sealed interface Data {
        DType dtype();

        int[] shape();

        default long byteSize() {
            return Tensor.numel(shape()) * dtype().bytes;
        }
    }

    /** fp32 values, narrowed to dtype on the way out. */
    public record Floats(Tensor tensor, DType dtype) implements Data {
        @Override
        public int[] shape() {
            return tensor.shape();
        }
    }

    /** Bytes already in dtype's little-endian encoding, copied as they are. */
    public record Raw(MemorySegment data, DType dtype, int[] shape) implements Data {}

    public static void write(Path target, Map<String, Tensor> tensors, DType dtype, Map<String, String> metadata) throws IOException {
        Map<String, Data> data = new LinkedHashMap<>();
        tensors.forEach((k, v) -> data.put(k, new Floats(v, dtype)));
        write(target, data, metadata);
    }

    public static void write(Path target, Map<String, ? extends Data> entries, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (var e : entries.entrySet()) {
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", e.getValue().dtype().name());
            var shape = t.putArray("shape");
            for (int d : e.getValue().shape()) shape.add(d);
            long bytes = e.getValue().byteSize();
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;
        byte[] head = new byte[8 + padded];
        ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
        System.arraycopy(json, 0, head, 8, json.length);
        for (int i = 8 + json.length; i < head.length; i++) head[i] = ' ';

        AtomicFiles.write(target, out -> {
            out.write(head);
            ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            for (Data d : entries.values()) {
                switch (d) {
                    case Floats f -> {
                        long n = f.tensor().numel();
                        for (long i = 0; i < n; i++) {
                            if (buf.remaining() < 4) flush(buf, out);
                            int bits = f.dtype().fromFloat(f.tensor().get(i));
                            if (f.dtype().bytes == 4) buf.putInt(bits);
                            else buf.putShort((short) bits);
                        }
                    }
                    case Raw r -> {
                        flush(buf, out);
                        byte[] chunk = new byte[1 << 16];
                        for (long pos = 0; pos < r.data().byteSize(); pos += chunk.length) {
                            int len = (int) Math.min(chunk.length, r.data().byteSize() - pos);
                            MemorySegment.copy(r.data(), ValueLayout.JAVA_BYTE, pos, chunk, 0, len);
                            out.write(chunk, 0, len);
                        }
                    }
                }
            }
            flush(buf, out);
        });
    }

    private static void flush(ByteBuffer buf, OutputStream out) throws IOException {
        out.write(buf.array(), 0, buf.position());
        buf.clear();
    }
}
