package dev.lora4j.io.gguf;

import dev.lora4j.Lora4jException;
import dev.lora4j.TestPaths;
import dev.lora4j.model.Transformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** GGUF files written and read back, and broken ones refused with the file and the field named, before any large allocation. */
class GgufFileTest {
    @TempDir
    Path tmp;

    @Test
    void writtenMetadataAndTensorsReadBack() throws Exception {
        Path f = tmp.resolve("a.gguf");
        new GgufWriter().put("general.architecture", "llama").put("n", 7).put("x", 1.5f).put("flag", true).put("big", 1L << 40)
                .put("words", new String[] {"a", "bé"}).put("ints", new int[] {-1, 2}).put("floats", new float[] {0.5f})
                .tensor("t", new long[] {2, 3}, GgmlType.F32, () -> ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putFloat(20, 9f).array())
                .tensor("u", new long[] {5}, GgmlType.F32, () -> new byte[20]).write(f);
        try (GgufFile g = GgufFile.open(f)) {
            assertThat(g.metadata()).containsEntry("general.architecture", "llama").containsEntry("n", 7L).containsEntry("x", 1.5f)
                    .containsEntry("flag", true).containsEntry("big", 1L << 40);
            assertThat((String[]) g.metadata().get("words")).containsExactly("a", "bé");
            assertThat((long[]) g.metadata().get("ints")).containsExactly(-1, 2);
            GgufFile.TensorInfo t = g.tensors().get("t");
            assertThat(t.dims()).containsExactly(3, 2);
            assertThat(t.data().byteSize()).isEqualTo(24);
            assertThat(t.data().address() % 32).as("aligned").isZero();
            assertThat(t.data().get(GgufFile.F32, 20)).isEqualTo(9f);
        }
    }

    @Test
    void brokenFilesAreRefusedByName() throws Exception {
        Path good = tmp.resolve("good.gguf");
        GgufExport.writeModel(Transformer.load(TestPaths.bundledModel()), TestPaths.bundledModel(), good, GgmlType.Q8_0, "s");
        byte[] all = Files.readAllBytes(good);
        assertThatThrownBy(() -> GgufFile.open(write("magic.gguf", "not a gguf file at all....".getBytes())))
                .isInstanceOf(Lora4jException.class).hasMessageContaining("magic.gguf: not a GGUF file");
        assertThatThrownBy(() -> GgufFile.open(write("cut.gguf", Arrays.copyOf(all, 2000))))
                .hasMessageContaining("cut.gguf").hasMessageContaining("runs past the end of the file");
        assertThatThrownBy(() -> GgufFile.open(write("short.gguf", Arrays.copyOf(all, all.length - 100))))
                .hasMessageContaining("short.gguf: tensor").hasMessageContaining("lies outside the file");
        byte[] huge = all.clone();
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(8, Long.MAX_VALUE / 2); // tensor count
        assertThatThrownBy(() -> GgufFile.open(write("count.gguf", huge))).hasMessageContaining("count.gguf: tensor count").hasMessageContaining("more than the file can hold");
        byte[] version = all.clone();
        version[4] = 9;
        assertThatThrownBy(() -> GgufFile.open(write("v.gguf", version))).hasMessageContaining("GGUF version 9");
        Path adapterLike = tmp.resolve("adapter.gguf");
        new GgufWriter().put("general.architecture", "llama").put("general.type", "adapter").write(adapterLike);
        assertThatThrownBy(() -> Transformer.load(adapterLike)).hasMessageContaining("general.type is 'adapter', not a model");
        Path gpt2 = tmp.resolve("gpt2.gguf");
        new GgufWriter().put("general.architecture", "gpt2").write(gpt2);
        assertThatThrownBy(() -> Transformer.load(gpt2)).hasMessageContaining("general.architecture is 'gpt2'");
    }

    private Path write(String name, byte[] bytes) throws Exception {
        Path p = tmp.resolve(name);
        Files.write(p, bytes);
        return p;
    }
}
