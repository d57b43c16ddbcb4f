package dev.lora4j.merge;

import dev.lora4j.TestPaths;
import dev.lora4j.cli.CliRunner;
import dev.lora4j.io.ModelFiles;
import dev.lora4j.io.SafeTensors;
import dev.lora4j.lora.LoraModel;
import dev.lora4j.lora.PeftAdapter;
import dev.lora4j.model.Activations;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

/** Merging adapters into their base: equal outputs, untouched tensors bit-identical, refusals leave nothing. */
class MergeTest {
    @TempDir
    Path tmp;

    static final int[] TOKENS = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8};

    static float[] logits(Transformer m) {
        return m.forward(TOKENS, 1, TOKENS.length, new Activations(m.config(), 1, TOKENS.length, false));
    }

    static void assertClose(float[] a, float[] b, float tol) {
        assertThat(a).hasSameSizeAs(b);
        for (int i = 0; i < a.length; i++) assertThat(a[i]).as("logit %d", i).isCloseTo(b[i], offset(tol));
    }

    @ParameterizedTest
    @CsvSource({"gpt2-plain,lora-gpt2-rslora", "llama-gqa,lora-llama-all-linear"})
    void mergedEqualsUnmergedAndKeepsEveryOtherTensor(String base, String adapter) throws IOException {
        Path out = tmp.resolve("merged");
        CliRunner.Run r = CliRunner.run("merge", "--model", TestPaths.fixture(base).toString(), "--adapter", TestPaths.fixture(adapter).toString(),
                "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        try (Transformer b = Transformer.load(TestPaths.fixture(base)); Transformer merged = Transformer.load(out)) {
            LoraModel lora = PeftAdapter.load(TestPaths.fixture(adapter), b);
            float[] withAdapter = logits(lora.model()), base0 = logits(b);
            assertClose(logits(merged), withAdapter, 2e-4f);
            assertClose(logits(Merger.mergeInMemory(lora, 1.0)), withAdapter, 2e-4f);
            assertThat(logits(lora.base())).as("unmerge: the base is exactly W0").containsExactly(base0);
            assertThat(withAdapter).isNotEqualTo(base0);
            // every tensor an adapter does not target is bit-identical
            ModelFiles ck = (ModelFiles) b.source();
            try (SafeTensors m = SafeTensors.open(out.resolve("model.safetensors"))) {
                assertThat(m.entries().keySet()).containsExactlyElementsOf(ck.names());
                java.util.Set<String> targeted = new java.util.HashSet<>();
                lora.modules().values().forEach(l -> targeted.add(l.base().weight().name()));
                for (String n : ck.names()) {
                    if (targeted.contains(n)) continue;
                    assertThat(m.raw(n).toArray(ValueLayout.JAVA_BYTE)).as(n).isEqualTo(ck.fileOf(n).raw(n).toArray(ValueLayout.JAVA_BYTE));
                }
                assertThat(targeted).isNotEmpty().allSatisfy(n -> assertThat(m.raw(n).toArray(ValueLayout.JAVA_BYTE))
                        .isNotEqualTo(ck.fileOf(n).raw(n).toArray(ValueLayout.JAVA_BYTE)));
            }
        }
    }

    @Test
    void aMergedModelCarriesOnlyModelFiles() throws IOException {
        Path model = tmp.resolve("with-card");
        try (var files = Files.list(TestPaths.fixture("llama-gqa"))) {
            Files.createDirectories(model);
            for (Path f : files.toList()) if (Files.isRegularFile(f)) Files.copy(f, model.resolve(f.getFileName()));
        }
        Files.writeString(model.resolve("README.md"), "the base's card");
        Files.writeString(model.resolve("loss.png"), "not a model file");
        Path out = tmp.resolve("merged-files");
        CliRunner.Run r = CliRunner.run("merge", "--model", model.toString(), "--adapter", TestPaths.fixture("lora-llama-all-linear").toString(),
                "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(out.resolve("config.json")).exists();
        assertThat(out.resolve("README.md")).doesNotExist();
        assertThat(out.resolve("loss.png")).doesNotExist();
    }

    @Test
    void aKilledMergesTemporaryDirectoryIsCleanedUpByTheNextOne() throws IOException {
        Path out = tmp.resolve("after-kill"), stale = tmp.resolve(".after-kill.123456"), foreign = tmp.resolve(".after-kill.mine");
        Files.createDirectories(stale);
        Files.writeString(stale.resolve(dev.lora4j.io.AtomicFiles.PARTIAL), "");
        Files.writeString(stale.resolve("model.safetensors"), "half written");
        Files.createDirectories(foreign);
        Files.writeString(foreign.resolve("notes.txt"), "not lora4j's");
        CliRunner.Run r = CliRunner.run("merge", "--model", TestPaths.fixture("llama-gqa").toString(), "--adapter",
                TestPaths.fixture("lora-llama-all-linear").toString(), "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(stale).doesNotExist();
        assertThat(foreign.resolve("notes.txt")).exists();
        assertThat(out.resolve(dev.lora4j.io.AtomicFiles.PARTIAL)).doesNotExist();
    }

    @Test
    void weightedAdaptersAddUp() throws IOException {
        Path half = tmp.resolve("half"), whole = tmp.resolve("whole");
        String a = TestPaths.fixture("lora-llama-all-linear").toString(), m = TestPaths.fixture("llama-gqa").toString();
        assertThat(CliRunner.run("merge", "--model", m, "--adapter", a + ":0.5", "--adapter", a + ":0.5", "--out", half.toString()).code()).isZero();
        assertThat(CliRunner.run("merge", "--model", m, "--adapter", a, "--out", whole.toString()).code()).isZero();
        try (Transformer h = Transformer.load(half); Transformer w = Transformer.load(whole)) {
            assertClose(logits(h), logits(w), 2e-4f);
        }
    }

    @Test
    void bf16OutputAndShardsArePreserved() throws IOException {
        // an all-linear adapter from llama-gqa does not fit Qwen2's shapes: use a fresh one trained here
        Path adapter = tmp.resolve("qa");
        CliRunner.Run t = CliRunner.run("train", "--model", TestPaths.fixture("qwen2-tied-bias").toString(), "--data",
                TestPaths.fixture("qwen2-tied-bias").resolve("eval.jsonl").toString(), "--out", adapter.toString(), "--steps", "2",
                "--lr", "0.05", "--batch-size", "3", "--seq-len", "12");
        assertThat(t.code()).as(t.err()).isZero();
        Path out = tmp.resolve("bf16");
        CliRunner.Run r = CliRunner.run("merge", "--model", TestPaths.fixture("qwen2-tied-bias").toString(), "--adapter", adapter.toString(),
                "--out", out.toString(), "--dtype", "bf16");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(out.resolve("model.safetensors.index.json")).exists();
        assertThat(out.resolve("model-00001-of-00002.safetensors")).exists();
        assertThat(ModelFiles.readJson(out.resolve("config.json")).get("torch_dtype").asText()).isEqualTo("bfloat16");
        try (ModelFiles ck = ModelFiles.open(out)) {
            for (String n : ck.names()) assertThat(ck.entry(n).dtype()).as(n).isEqualTo(DType.BF16);
        }
        try (Transformer m = Transformer.load(out)) {
            assertThat(logits(m)).hasSize(TOKENS.length * 101);
        }
    }

    @Test
    void nonFiniteResultsAndOccupiedOutputsAreRefusedLeavingNothing() throws IOException {
        String a = TestPaths.fixture("lora-llama-all-linear").toString(), m = TestPaths.fixture("llama-gqa").toString();
        Path out = tmp.resolve("inf");
        CliRunner.Run r = CliRunner.run("merge", "--model", m, "--adapter", a + ":1e38", "--out", out.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("non-finite");
        assertThat(out).doesNotExist();
        try (var s = Files.list(tmp)) {
            assertThat(s.toList()).as("no temporary directory left").isEmpty();
        }
        Path busy = tmp.resolve("busy");
        Files.createDirectories(busy);
        Files.writeString(busy.resolve("x"), "x");
        CliRunner.Run b = CliRunner.run("merge", "--model", m, "--adapter", a, "--out", busy.toString());
        assertThat(b.code()).isEqualTo(1);
        assertThat(b.err()).contains("not an empty directory");
    }
}
