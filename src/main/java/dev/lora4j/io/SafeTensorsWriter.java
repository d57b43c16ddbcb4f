package dev.lora4j.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Writes a .safetensors file atomically: into a temporary file beside the target, fsynced, then
 * renamed over it, so a crash leaves either the old file or the new one, never half of one.
 * Tensors are written in the given order, narrowed to the requested dtype (round to nearest even).
 */
public final class SafeTensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private SafeTensorsWriter() {}

    public static void write(Path target, Map<String, Tensor> tensors, DType dtype, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (var e : tensors.entrySet()) {
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", dtype.name());
            var shape = t.putArray("shape");
            for (int d : e.getValue().shape()) shape.add(d);
            long bytes = e.getValue().numel() * dtype.bytes;
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
            for (Tensor t : tensors.values()) {
                long n = t.numel();
                for (long i = 0; i < n; i++) {
                    if (buf.remaining() < 4) flush(buf, out);
                    int bits = dtype.fromFloat(t.get(i));
                    if (dtype.bytes == 4) buf.putInt(bits);
                    else buf.putShort((short) bits);
                }
            }
            flush(buf, out);
        });
    }

    private static void flush(ByteBuffer buf, OutputStream out) throws IOException {
        out.write(buf.array(), 0, buf.position());
        buf.clear();
    }

    /** Header JSON of a file, for tests and tools. */
    static String headerOf(Path p) throws IOException {
        byte[] all = Files.readAllBytes(p);
        long n = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong();
        return new String(all, 8, (int) n, StandardCharsets.UTF_8);
    }
}
