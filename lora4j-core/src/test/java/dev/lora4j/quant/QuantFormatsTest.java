package dev.lora4j.quant;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The quantized formats against fixtures/quant.json, written by reference/quant_fixture.py from the
 * formats' definitions (the QLoRA paper and bitsandbytes' maps for NF4; ggml-quants.c's layouts for the
 * GGML blocks): the bytes lora4j writes and the values it decodes are the reference's, bit for bit.
 */
class QuantFormatsTest {
    static JsonNode fixture;
    static int rows, cols;
    static float[] input;

    @BeforeAll
    static void load() throws IOException {
        fixture = new ObjectMapper().readTree(TestPaths.fixture("quant.json").toFile());
        rows = fixture.get("rows").asInt();
        cols = fixture.get("cols").asInt();
        input = floats(fixture.get("input"));
    }

    static float[] floats(JsonNode a) {
        float[] f = new float[a.size()];
        for (int i = 0; i < f.length; i++) f[i] = (float) a.get(i).asDouble();
        return f;
    }

    static byte[] bytes(JsonNode format, String field) {
        return Base64.getDecoder().decode(format.get(field).asText());
    }

    static QuantizedMatrix.RowSource source(float[] w, int cols) {
        return (r, dst) -> System.arraycopy(w, r * cols, dst, 0, cols);
    }

    /** Every element decoded three ways (vector spans, scalar spans, one at a time) equals the reference's value. */
    static void assertDecodes(QuantizedMatrix q, float[] expected) {
        float[] vector = new float[cols], scalar = new float[cols];
        for (int r = 0; r < rows; r++) {
            q.dequantize(r, 0, vector, 0, cols, true);
            q.dequantize(r, 0, scalar, 0, cols, false);
            for (int c = 0; c < cols; c++) {
                int want = Float.floatToRawIntBits(expected[r * cols + c]);
                assertThat(Float.floatToRawIntBits(vector[c])).as("%s (%d, %d) vector", q.type(), r, c).isEqualTo(want);
                assertThat(Float.floatToRawIntBits(scalar[c])).as("%s (%d, %d) scalar", q.type(), r, c).isEqualTo(want);
                assertThat(Float.floatToRawIntBits(q.get(r, c))).as("%s (%d, %d) element", q.type(), r, c).isEqualTo(want);
            }
        }
    }

    @Test
    void int8BytesAndValues() {
        Int8Matrix q = (Int8Matrix) QuantizedMatrix.quantize(QuantType.INT8, rows, cols, source(input, cols));
        ByteBuffer want = ByteBuffer.wrap(bytes(fixture.get("formats").get("int8"), "bytes")).order(ByteOrder.LITTLE_ENDIAN);
        for (int r = 0; r < rows; r++) {
            assertThat(q.scale(r)).as("row %d scale", r).isEqualTo(want.getFloat());
            byte[] row = new byte[cols];
            want.get(row);
            assertThat(q.values().asSlice((long) r * cols, cols).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).as("row %d", r).isEqualTo(row);
        }
        assertDecodes(q, floats(fixture.get("formats").get("int8").get("values")));
    }

    @Test
    void nf4BytesAndValues() {
        JsonNode f = fixture.get("formats").get("nf4");
        assertThat(Nf4Matrix.DYNAMIC).as("bitsandbytes' dynamic map").containsExactly(floats(fixture.get("dynamic_map")));
        Nf4Matrix q = (Nf4Matrix) QuantizedMatrix.quantize(QuantType.NF4, rows, cols, source(input, cols));
        assertThat(q.codes().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).as("4-bit codes").isEqualTo(bytes(f, "codes"));
        assertThat(q.absmaxCodes()).as("absmax codes").isEqualTo(bytes(f, "absmax_codes"));
        ByteBuffer scales = ByteBuffer.wrap(bytes(f, "scales2")).order(ByteOrder.LITTLE_ENDIAN);
        for (float s : q.groupScales()) assertThat(s).isEqualTo(scales.getFloat());
        assertThat(q.mean()).isEqualTo(ByteBuffer.wrap(bytes(f, "offset")).order(ByteOrder.LITTLE_ENDIAN).getFloat());
        assertDecodes(q, floats(f.get("values")));
        assertThat(q.byteSize() * 8.0 / (rows * cols)).as("bits a weight").isLessThan(4.2);
    }

    @ParameterizedTest
    @EnumSource(value = QuantType.class, names = {"Q8_0", "Q4_0"})
    void ggmlWrittenAsLlamaCppWritesThem(QuantType type) {
        JsonNode f = fixture.get("formats").get(type.label);
        GgmlMatrix q = (GgmlMatrix) QuantizedMatrix.quantize(type, rows, cols, source(input, cols));
        assertThat(q.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).isEqualTo(bytes(f, "bytes"));
        assertDecodes(q, floats(f.get("values")));
    }

    @ParameterizedTest
    @EnumSource(value = QuantType.class, names = {"Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"})
    void ggmlReadAsDefined(QuantType type) {
        JsonNode f = fixture.get("formats").get(type.label);
        assertDecodes(new GgmlMatrix(type, rows, cols, MemorySegment.ofArray(bytes(f, "bytes"))), floats(f.get("values")));
    }

    @ParameterizedTest
    @EnumSource(value = QuantType.class, names = {"INT8", "NF4", "Q8_0", "Q4_0"})
    void spansAndElementsAgreeAndErrorIsBounded(QuantType type) {
        Random rnd = new Random(7);
        int r = 70, c = 256; // NF4 blocks span several double-quantization groups
        float[] w = new float[r * c];
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian() * 0.02f;
        QuantizedMatrix q = QuantizedMatrix.quantize(type, r, c, source(w, c));
        float[] span = new float[40];
        double err = 0, norm = 0;
        for (int i = 0; i < r; i++) {
            q.dequantize(i, 3, span, 0, 40, true); // not block-aligned: element by element
            for (int j = 0; j < 40; j++) assertThat(span[j]).isEqualTo(q.get(i, 3 + j));
            for (int j = 0; j < c; j++) {
                err += Math.pow(q.get(i, j) - w[i * c + j], 2);
                norm += Math.pow(w[i * c + j], 2);
            }
        }
        double bound = switch (type) {
            case INT8, Q8_0 -> 0.01;
            default -> 0.15; // 4 bits
        };
        assertThat(Math.sqrt(err / norm)).as("%s relative error", type).isLessThan(bound).isGreaterThan(0);
    }

    /** The decode kernels' fused dot products equal a dequantized row's dot product bit for bit (so a batch's rows do not depend on the batch). */
    @ParameterizedTest
    @EnumSource(value = QuantType.class, names = {"INT8", "NF4", "Q8_0", "Q4_0"})
    void fusedDotEqualsDotOfTheDequantizedRow(QuantType type) {
        Random rnd = new Random(8);
        for (int cols : new int[] {64, 96, 320, 832}) {
            if (!type.fits(cols)) continue;
            int rows = 5;
            float[] w = new float[rows * cols], x = new float[cols + 3], row = new float[cols], lanes = new float[64];
            for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextGaussian();
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
            QuantizedMatrix q = QuantizedMatrix.quantize(type, rows, cols, source(w, cols));
            for (int r = 0; r < rows; r++) {
                float fused = q.dot(r, x, 3, new float[cols], lanes);
                q.dequantize(r, 0, row, 0, cols, true);
                assertThat(Float.floatToRawIntBits(fused)).as("%s %d cols, row %d", type, cols, r)
                        .isEqualTo(Float.floatToRawIntBits(QuantizedMatrix.dotRow(row, x, 3, cols, lanes)));
                double exact = 0;
                for (int p = 0; p < cols; p++) exact += (double) q.get(r, p) * x[3 + p];
                assertThat((double) fused).isCloseTo(exact, org.assertj.core.data.Offset.offset(1e-4 * Math.sqrt(cols)));
            }
        }
    }

    /**
     * Q4_K, Q5_K and Q6_K, which lora4j reads but does not write, from random blocks (every byte pattern is a valid block
     * once its fp16 scales are finite): vector spans equal scalar spans and single elements, and the fused dot equals
     * the dot of the dequantized row, bit for bit.
     */
    @ParameterizedTest
    @EnumSource(value = QuantType.class, names = {"Q4_K", "Q5_K", "Q6_K"})
    void kQuantsFromRandomBlocks(QuantType type) {
        Random rnd = new Random(9);
        int rows = 3, cols = 768, blocks = cols / 256;
        byte[] raw = new byte[rows * blocks * type.blockBytes];
        rnd.nextBytes(raw);
        MemorySegment seg = MemorySegment.ofArray(raw);
        for (int b = 0; b < rows * blocks; b++) {
            long o = (long) b * type.blockBytes;
            if (type != QuantType.Q6_K) { // d and dmin lead the block
                seg.set(QuantizedMatrix.U16, o, Float.floatToFloat16((float) rnd.nextGaussian() * 1e-3f));
                seg.set(QuantizedMatrix.U16, o + 2, Float.floatToFloat16((float) rnd.nextGaussian() * 1e-3f));
            } else seg.set(QuantizedMatrix.U16, o + 208, Float.floatToFloat16((float) rnd.nextGaussian() * 1e-3f));
        }
        GgmlMatrix q = new GgmlMatrix(type, rows, cols, seg);
        float[] x = new float[cols + 5], vector = new float[cols], scalar = new float[cols], lanes = new float[64];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        for (int r = 0; r < rows; r++) {
            q.dequantize(r, 0, vector, 0, cols, true);
            q.dequantize(r, 0, scalar, 0, cols, false);
            for (int c = 0; c < cols; c++) {
                assertThat(Float.floatToRawIntBits(vector[c])).as("%s (%d, %d) vector", type, r, c).isEqualTo(Float.floatToRawIntBits(scalar[c]));
                assertThat(Float.floatToRawIntBits(q.get(r, c))).as("%s (%d, %d) element", type, r, c).isEqualTo(Float.floatToRawIntBits(scalar[c]));
            }
            float fused = q.dot(r, x, 5, new float[cols], lanes);
            assertThat(Float.floatToRawIntBits(fused)).as("%s row %d fused dot", type, r)
                    .isEqualTo(Float.floatToRawIntBits(QuantizedMatrix.dotRow(scalar, x, 5, cols, lanes)));
            double exact = 0;
            for (int p = 0; p < cols; p++) exact += (double) scalar[p] * x[5 + p];
            assertThat((double) fused).isCloseTo(exact, org.assertj.core.data.Offset.offset(1e-3 * Math.abs(exact) + 1e-3));
        }
    }

    @Test
    void refusesRowsOfPartialBlocks() {
        assertThatThrownBy(() -> QuantizedMatrix.quantize(QuantType.NF4, 2, 96, source(new float[192], 96)))
                .hasMessageContaining("nf4 needs rows of whole 64-element blocks, not 2x96");
        assertThatThrownBy(() -> new GgmlMatrix(QuantType.Q8_0, 2, 64, MemorySegment.ofArray(new byte[10])))
                .hasMessageContaining("q8_0: 10 bytes for 2x64, expected 136");
    }
}
