package dev.lora4j.io;

import dev.lora4j.Lora4jException;
import dev.lora4j.tensor.DType;
import dev.lora4j.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SafeTensorsTest {
    @TempDir
    Path dir;

    static byte[] file(String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        return b.array();
    }

    Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    @Test
    void roundTripsEveryDtype() throws IOException {
        float[] v = {0f, 1f, -2.5f, 3.14159f, 1e-3f, 65504f};
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("a.weight", Tensor.of("a.weight", v, 2, 3));
        m.put("b", Tensor.of("b", new float[] {7f}, 1));
        for (DType dt : DType.values()) {
            Path p = dir.resolve("t-" + dt + ".safetensors");
            SafeTensorsWriter.write(p, m, dt, Map.of("format", "pt"));
            try (SafeTensors st = SafeTensors.open(p)) {
                assertThat(st.metadata()).containsEntry("format", "pt");
                assertThat(st.entry("a.weight").dtype()).isEqualTo(dt);
                assertThat(st.entry("a.weight").shape()).containsExactly(2, 3);
                float[] back = st.tensor("a.weight").toArray();
                for (int i = 0; i < v.length; i++) {
                    float tol = dt == DType.F32 ? 0f : dt == DType.BF16 ? Math.abs(v[i]) / 128 : Math.abs(v[i]) / 1024;
                    assertThat(back[i]).as("%s element %d", dt, i).isCloseTo(v[i], org.assertj.core.data.Offset.offset(tol));
                }
                assertThat(st.tensor("b").get(0)).isEqualTo(7f);
            }
            assertThat(Files.readString(p.resolveSibling(p.getFileName()), StandardCharsets.ISO_8859_1)).isNotEmpty();
        }
        try (var files = Files.list(dir)) {
            assertThat(files.filter(f -> f.getFileName().toString().endsWith(".tmp"))).as("no temp files left").isEmpty();
        }
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertThat(DType.BF16.fromFloat(1f)).isEqualTo(0x3f80);
        assertThat(DType.BF16.fromFloat(Float.intBitsToFloat(0x3f808000))).isEqualTo(0x3f80); // tie → even
        assertThat(DType.BF16.fromFloat(Float.intBitsToFloat(0x3f818000))).isEqualTo(0x3f82); // tie → even
        assertThat(DType.BF16.fromFloat(Float.intBitsToFloat(0x3f808001))).isEqualTo(0x3f81);
    }

    @Test
    void f32TensorsAreViewsOfTheMapping() throws IOException {
        Path p = dir.resolve("v.safetensors");
        SafeTensorsWriter.write(p, Map.of("x", Tensor.of("x", new float[] {1, 2, 3, 4}, 4)), DType.F32, null);
        try (SafeTensors st = SafeTensors.open(p)) {
            Tensor t = st.tensor("x");
            assertThat(t.heapArray()).as("not copied to the heap").isNull();
            assertThat(t.data().isMapped()).isTrue();
            assertThat(t.toArray()).containsExactly(1, 2, 3, 4);
        }
    }

    void assertRejected(byte[] bytes, String... fragments) throws IOException {
        Path p = write("bad.safetensors", bytes);
        assertThatThrownBy(() -> SafeTensors.open(p).close())
                .isInstanceOf(Lora4jException.class)
                .hasMessageContaining(p.toString())
                .hasMessageContainingAll(fragments);
    }

    @Test
    void rejectsTruncatedFile() throws IOException {
        assertRejected(new byte[] {1, 2, 3}, "shorter than the 8-byte header");
    }

    @Test
    void rejectsHeaderLengthPastTheEnd() throws IOException {
        byte[] f = file("{}", 0);
        ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1000);
        assertRejected(f, "header length 1000");
    }

    @Test
    void rejectsBadJson() throws IOException {
        assertRejected(file("{\"a\": [", 0), "not valid JSON");
    }

    @Test
    void rejectsOverlappingOffsets() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlap", "'a'", "'b'");
    }

    @Test
    void isAsStrictAsTheReferenceImplementation() throws IOException {
        String a = "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
        assertRejected(file("{" + a + ",\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16), "tensor 'b'", "gap");
        assertRejected(file("{" + a + "}", 12), "trailing bytes");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8), "tensor 'a'", "integers");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],\"data_offsets\":[0,8]}}", 8),
                "tensor 'a'", "more elements");
        assertRejected(file("{" + a + "} {}", 8), "not valid JSON");
        assertRejected(file("{\"__metadata__\":{\"x\":1}," + a + "}", 8), "__metadata__ 'x'");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0.0,8]}}", 8), "data_offsets");
    }

    @Test
    void rejectsOutOfRangeOffsets() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8), "tensor 'a'", "out of range");
    }

    @Test
    void rejectsUnknownDtype() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"I8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4), "tensor 'a'", "unsupported dtype 'I8'");
    }

    @Test
    void rejectsSizeNotMatchingShape() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "tensor 'a'", "expected 12");
    }

    @Test
    void shardedCheckpointRejectsMissingShard() throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"model_type\":\"gpt2\"}");
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"weight_map\":{\"wte.weight\":\"model-1.safetensors\"}}");
        assertThatThrownBy(() -> ModelFiles.open(dir)).isInstanceOf(Lora4jException.class)
                .hasMessageContainingAll("wte.weight", "model-1.safetensors", "does not exist");
    }
}
