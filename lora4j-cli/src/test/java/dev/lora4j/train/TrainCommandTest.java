package dev.lora4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import dev.lora4j.cli.CliRunner;
import dev.lora4j.io.SafeTensors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** `lora4j train` end to end: PyTorch's SGD step, determinism, resume, outputs and refusals. */
class TrainCommandTest {
    @TempDir
    Path tmp;

    static final Path BASE = TestPaths.fixture("llama-gqa"), ADAPTER = TestPaths.fixture("lora-llama-all-linear");

    Path referenceData() throws IOException {
        JsonNode ref = new ObjectMapper().readTree(ADAPTER.resolve("reference.json").toFile());
        Path d = tmp.resolve("data.jsonl");
        List<String> lines = new ArrayList<>();
        for (JsonNode row : ref.get("input_ids")) lines.add("{\"input_ids\": " + row + "}");
        Files.write(d, lines);
        return d;
    }

    @Test
    void oneSgdStepEqualsPyTorch() throws IOException {
        Path out = tmp.resolve("O");
        CliRunner.Run r = CliRunner.run("train", "--model", BASE.toString(), "--data", referenceData().toString(), "--init-adapter", ADAPTER.toString(),
                "--optimizer", "sgd", "--lr", "0.05", "--steps", "1", "--batch-size", "6", "--seq-len", "16", "--no-shuffle",
                "--dropout", "0", "--max-grad-norm", "0", "--weight-decay", "0", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("trainable params: ");
        assertThat(out.resolve("adapter_config.json")).exists();
        assertThat(out.resolve("loss.png")).exists();
        assertThat(out.resolve("metrics.jsonl")).exists();
        assertThat(Files.readString(out.resolve("README.md"))).contains("base_model: " + BASE, "library_name: peft", "lora_alpha", "trainable params");
        try (SafeTensors before = SafeTensors.open(ADAPTER.resolve("adapter_model.safetensors"));
             SafeTensors grads = SafeTensors.open(ADAPTER.resolve("lora_grads.safetensors"));
             SafeTensors after = SafeTensors.open(out.resolve("adapter_model.safetensors"))) {
            assertThat(after.entries().keySet()).isEqualTo(before.entries().keySet());
            for (String key : before.entries().keySet()) {
                float[] a0 = before.tensor(key).toArray(), g = grads.tensor(key).toArray(), a1 = after.tensor(key).toArray();
                double num = 0, den = 0;
                for (int i = 0; i < a0.length; i++) {
                    double expected = a0[i] - 0.05 * g[i];
                    num += (a1[i] - expected) * (a1[i] - expected);
                    den += (0.05 * g[i]) * (0.05 * g[i]);
                }
                assertThat(Math.sqrt(num / den)).as("%s: error of the update relative to its size", key).isLessThan(1e-4);
            }
        }
    }

    String[] run(Path out, String... extra) throws IOException {
        List<String> a = new ArrayList<>(List.of("train", "--model", BASE.toString(), "--data", referenceData().toString(), "--out", out.toString(),
                "--r", "2", "--batch-size", "1", "--dropout", "0.1", "--seq-len", "12"));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    @Test
    void deterministicAndResumable() throws IOException {
        Path one = tmp.resolve("one"), two = tmp.resolve("two");
        assertThat(CliRunner.run(run(one, "--steps", "4", "--save-every", "2", "--target", "q_proj,v_proj", "--lr", "1e-2")).code()).isZero();
        assertThat(CliRunner.run(run(two, "--steps", "4", "--save-every", "2", "--target", "q_proj,v_proj", "--lr", "1e-2")).code()).isZero();
        byte[] final1 = Files.readAllBytes(one.resolve("adapter_model.safetensors"));
        assertThat(Files.readAllBytes(two.resolve("adapter_model.safetensors"))).as("same seed, same bytes").isEqualTo(final1);
        assertThat(one.resolve("checkpoint-2/optimizer.safetensors")).exists();
        // continue from step 2: the result must be bit-identical to the uninterrupted run
        CliRunner.Run r = CliRunner.run("train", "--resume", one.resolve("checkpoint-2").toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Files.readAllBytes(one.resolve("adapter_model.safetensors"))).isEqualTo(final1);
        assertThat(Files.readAllLines(one.resolve("metrics.jsonl"))).hasSize(4);
        // a different seed gives a different adapter
        Path three = tmp.resolve("three");
        assertThat(CliRunner.run(run(three, "--steps", "4", "--seed", "7", "--target", "q_proj,v_proj", "--lr", "1e-2")).code()).isZero();
        assertThat(Files.readAllBytes(three.resolve("adapter_model.safetensors"))).isNotEqualTo(final1);
    }

    @Test
    void refusesAForeignOutputDirectoryBeforeAnyWork() throws IOException {
        Path out = tmp.resolve("foreign");
        Files.createDirectories(out);
        Files.writeString(out.resolve("notes.txt"), "mine");
        CliRunner.Run r = CliRunner.run(run(out, "--steps", "1"));
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("is not empty");
        try (var s = Files.list(out)) {
            assertThat(s.toList()).hasSize(1);
        }
    }

    @Test
    void stopsOnANonFiniteLoss() throws IOException {
        Path out = tmp.resolve("nan");
        CliRunner.Run r = CliRunner.run(run(out, "--steps", "3", "--optimizer", "sgd", "--lr", "1e38", "--max-grad-norm", "0"));
        assertThat(r.code()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).containsPattern("loss is (NaN|Infinity) at step [23]");
        assertThat(out.resolve("adapter_model.safetensors")).doesNotExist();
    }

    @Test
    void targetsThatMatchNothingListTheModules() throws IOException {
        CliRunner.Run r = CliRunner.run(run(tmp.resolve("x"), "--steps", "1", "--target", "c_attn"));
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("match no module", "q_proj", "self_attn.o_proj", "mlp.down_proj");
    }

    /** A PiSSA run checkpoints PEFT's converted adapter, and resuming splits it back: bit-identical to the uninterrupted run. */
    @Test
    void pissaResumesExactlyFromItsConvertedCheckpoint() throws IOException {
        Path one = tmp.resolve("pissa");
        CliRunner.Run r = CliRunner.run(run(one, "--steps", "4", "--save-every", "2", "--target", "q_proj,v_proj", "--lr", "1e-2", "--init", "pissa"));
        assertThat(r.code()).as(r.err()).isZero();
        byte[] final1 = Files.readAllBytes(one.resolve("adapter_model.safetensors"));
        assertThat(Files.readString(one.resolve("adapter_config.json"))).contains("\"init_lora_weights\" : true", "\"r\" : 4");
        CliRunner.Run again = CliRunner.run("train", "--resume", one.resolve("checkpoint-2").toString());
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(Files.readAllBytes(one.resolve("adapter_model.safetensors"))).isEqualTo(final1);
        CliRunner.Run bad = CliRunner.run(run(tmp.resolve("bad"), "--steps", "1", "--init", "pissa_niter_x"));
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err()).contains("pissa_niter_N").doesNotContain("Exception");
    }

    /** --dora: PEFT's use_dora and magnitude keys on disk, PEFT's trainable count, and the merged model evaluates as the adapter. */
    @Test
    void doraTrainsSavesAndMergesAsPeft() throws IOException {
        Path model = TestPaths.fixture("gpt2-plain"), data = model.resolve("eval.jsonl"), out = tmp.resolve("dora");
        CliRunner.Run r = CliRunner.run("train", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(),
                "--steps", "3", "--batch-size", "2", "--seq-len", "8", "--lr", "1e-2", "--dora");
        assertThat(r.code()).as(r.err()).isZero();
        // LoRA's 3,072 plus a magnitude per c_attn output: 2 × 144
        assertThat(r.err()).contains("trainable params: 3,360 ||");
        assertThat(new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile()).get("use_dora").asBoolean()).isTrue();
        try (SafeTensors st = SafeTensors.open(out.resolve("adapter_model.safetensors"))) {
            assertThat(st.entry("base_model.model.transformer.h.0.attn.c_attn.lora_magnitude_vector.weight").shape()).containsExactly(144);
        }
        CliRunner.Run adapted = CliRunner.run("eval", "--model", model.toString(), "--adapter", out.toString(), "--data", data.toString(), "--json");
        CliRunner.Run merge = CliRunner.run("merge", "--model", model.toString(), "--adapter", out.toString(), "--out", tmp.resolve("merged").toString());
        assertThat(merge.code()).as(merge.err()).isZero();
        CliRunner.Run merged = CliRunner.run("eval", "--model", tmp.resolve("merged").toString(), "--data", data.toString(), "--json");
        double a = new ObjectMapper().readTree(adapted.lastLine()).get("loss").asDouble(), m = new ObjectMapper().readTree(merged.lastLine()).get("loss").asDouble();
        assertThat(m).isCloseTo(a, org.assertj.core.data.Offset.offset(1e-5));
        CliRunner.Run full = CliRunner.run("train", "--model", model.toString(), "--data", data.toString(), "--out", tmp.resolve("f").toString(), "--full", "--dora");
        assertThat(full.code()).isNotZero();
        assertThat(full.err()).contains("--dora").doesNotContain("Exception");
    }

    @Test
    void trainableLineHasPeftsFormat() throws IOException {
        CliRunner.Run r = CliRunner.run("train", "--model", TestPaths.fixture("gpt2-plain").toString(),
                "--data", TestPaths.fixture("gpt2-plain").resolve("eval.jsonl").toString(),
                "--out", tmp.resolve("g").toString(), "--steps", "1", "--batch-size", "2", "--seq-len", "8");
        assertThat(r.code()).as(r.err()).isZero();
        // 2 layers × c_attn (48 → 144) at r = 8: 2·(8·48 + 144·8) = 3,072 trainable; the base has
        // wte 89·48 + wpe 32·48 + 2 × 28,272 per block + ln_f 96 = 62,448
        assertThat(r.err()).contains("trainable params: 3,072 || all params: 65,520 || trainable%: 4.6886");
    }

    @Test
    void fullFineTuningWritesACheckpointAndResumesExactly() throws IOException {
        Path out = tmp.resolve("full");
        CliRunner.Run r = CliRunner.run(run(out, "--full", "--steps", "3", "--save-every", "1", "--lr", "1e-3"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("full fine-tuning: trainable params: 74,176");
        assertThat(out.resolve("model.safetensors")).exists();
        assertThat(out.resolve("config.json")).exists();
        byte[] done = Files.readAllBytes(out.resolve("model.safetensors"));
        // the result is a checkpoint lora4j (and HF) can load, and it differs from the base
        CliRunner.Run e = CliRunner.run("eval", "--model", out.toString(), "--data", referenceData().toString(), "--json");
        CliRunner.Run e0 = CliRunner.run("eval", "--model", BASE.toString(), "--data", referenceData().toString(), "--json");
        assertThat(e.code()).as(e.err()).isZero();
        assertThat(e.lastLine()).isNotEqualTo(e0.lastLine());
        CliRunner.Run again = CliRunner.run("train", "--resume", out.resolve("checkpoint-1").toString());
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(Files.readAllBytes(out.resolve("model.safetensors"))).isEqualTo(done);
    }

    @Test
    void rankAndAlphaPatternsReachTheAdapterFile() throws IOException {
        Path out = tmp.resolve("patterns");
        CliRunner.Run r = CliRunner.run(run(out, "--steps", "1", "--target", "q_proj,v_proj", "--rank-pattern", "v_proj=1", "--alpha-pattern", "q_proj=5"));
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode cfg = new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile());
        assertThat(cfg.get("rank_pattern").get("v_proj").asInt()).isEqualTo(1);
        assertThat(cfg.get("alpha_pattern").get("q_proj").asDouble()).isEqualTo(5.0);
        try (SafeTensors st = SafeTensors.open(out.resolve("adapter_model.safetensors"))) {
            assertThat(st.entry("base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight").shape()).containsExactly(1, 64);
            assertThat(st.entry("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").shape()).containsExactly(2, 64);
        }
    }

    @Test
    void adaptersForAnotherModelAreRefusedNamingTheTensor() throws IOException {
        // module names that do not exist in GPT-2
        CliRunner.Run r = CliRunner.run("eval", "--model", TestPaths.fixture("gpt2-plain").toString(),
                "--data", TestPaths.fixture("gpt2-plain").resolve("eval.jsonl").toString(), "--adapter", ADAPTER.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("model.layers.0.", "does not exist in the base model");
        // same module names, other shapes (Mistral's fixture is narrower)
        CliRunner.Run s = CliRunner.run("eval", "--model", TestPaths.fixture("mistral-window").toString(),
                "--data", TestPaths.fixture("mistral-window").resolve("eval.jsonl").toString(), "--adapter", ADAPTER.toString());
        assertThat(s.code()).isEqualTo(1);
        assertThat(s.err()).contains("lora_A.weight' has shape", "expected [");
    }

    @Test
    void anOutputPathThatIsAFileIsRefused() throws IOException {
        Path file = tmp.resolve("file");
        Files.writeString(file, "x");
        CliRunner.Run r = CliRunner.run(run(file, "--steps", "1"));
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("exists and is not a directory");
    }

    @Test
    void aStepThatBlowsUpTheWeightsIsNotSaved() throws IOException {
        // the loss of the one step is finite; only its update overflows (the old defect: an all-Inf adapter and "done")
        Path out = tmp.resolve("blowup");
        CliRunner.Run r = CliRunner.run(run(out, "--steps", "1", "--lr", "1e38", "--max-grad-norm", "0"));
        assertThat(r.code()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("step 1 made", "lora_", "stopped without saving").doesNotContain("done:");
        assertThat(out.resolve("adapter_model.safetensors")).doesNotExist();
    }

    @Test
    void numbersOutsideTheirDomainAreRefusedNamingTheOption() throws IOException {
        String[][] cases = {
                {"--betas", "0.9,1.0", "--betas (beta2)"}, {"--eps", "NaN", "--eps"}, {"--weight-decay", "NaN", "--weight-decay"},
                {"--lr", "Infinity", "--lr"}, {"--lr", "-1", "--lr"}, {"--eps", "0", "--eps"}, {"--momentum", "1.5", "--momentum"},
                {"--rank-pattern", "q_proj=0", "--rank-pattern q_proj"}, {"--rank-pattern", "q_proj=-1", "--rank-pattern q_proj"},
                {"--alpha", "NaN", "--alpha"}, {"--max-grad-norm", "-1", "--max-grad-norm"}, {"--warmup-steps", "-3", "--warmup-steps"},
                {"--save-every", "-1", "--save-every"}, {"--eval-split", "1", "--eval-split"}, {"--grad-accum", "0", "--grad-accum"},
                {"--epochs", "0", "--epochs"}};
        for (String[] c : cases) {
            Path out = tmp.resolve("domain");
            CliRunner.Run r = CliRunner.run(run(out, "--steps", "1", c[0], c[1]));
            assertThat(r.code()).as(String.join(" ", c) + ": " + r.err()).isEqualTo(1);
            assertThat(r.err()).as(String.join(" ", c)).contains(c[2]).doesNotContain("Exception", "\tat ");
            assertThat(out).as("nothing written for " + String.join(" ", c)).doesNotExist();
        }
    }

    @Test
    void anEarlierRunIsNeitherContinuedByAccidentNorMixedIn() throws IOException {
        Path out = tmp.resolve("reuse");
        assertThat(CliRunner.run(run(out, "--steps", "4", "--save-every", "2", "--lr", "1e-2")).code()).isZero();
        assertThat(out.resolve("checkpoint-4")).exists();
        // a new run into it is refused, pointing at --resume and --overwrite; nothing changes
        byte[] adapter = Files.readAllBytes(out.resolve("adapter_model.safetensors"));
        CliRunner.Run again = CliRunner.run(run(out, "--steps", "2", "--save-every", "1"));
        assertThat(again.code()).isEqualTo(1);
        assertThat(again.err()).contains("earlier training run", "--resume", "--overwrite");
        assertThat(Files.readAllBytes(out.resolve("adapter_model.safetensors"))).isEqualTo(adapter);
        // --overwrite owns it whole: none of the earlier run's checkpoints survive to be resumed by mistake
        CliRunner.Run over = CliRunner.run(run(out, "--steps", "2", "--save-every", "1", "--overwrite"));
        assertThat(over.code()).as(over.err()).isZero();
        assertThat(out.resolve("checkpoint-4")).doesNotExist();
        assertThat(out.resolve("checkpoint-2")).exists();
        assertThat(Files.readAllLines(out.resolve("metrics.jsonl"))).hasSize(2);
        // a file lora4j did not write blocks --overwrite, and nothing is deleted
        Files.writeString(out.resolve("notes.txt"), "mine");
        CliRunner.Run blocked = CliRunner.run(run(out, "--steps", "1", "--overwrite"));
        assertThat(blocked.code()).isEqualTo(1);
        assertThat(blocked.err()).contains("notes.txt", "nothing was deleted");
        assertThat(out.resolve("checkpoint-2")).exists();
    }

    @Test
    void twoRunsIntoOneDirectoryAtOnceCannotBothProceed() throws IOException {
        Path out = tmp.resolve("locked");
        Files.createDirectories(out);
        try (var held = dev.lora4j.io.OwnedDirectory.lock(out, "train")) {
            CliRunner.Run r = CliRunner.run(run(out, "--steps", "1"));
            assertThat(r.code()).isEqualTo(1);
            assertThat(r.err()).contains("another lora4j run is writing here");
        }
        assertThat(CliRunner.run(run(out, "--steps", "1")).code()).isZero();
    }

    @Test
    void dataWithNothingToLearnIsAnError() throws IOException {
        Path data = tmp.resolve("nothing.jsonl");
        Files.writeString(data, "{\"input_ids\": [5]}\n{\"input_ids\": [1, 2, 3], \"labels\": [-100, -100, -100]}\n");
        CliRunner.Run r = CliRunner.run("train", "--model", BASE.toString(), "--data", data.toString(), "--out", tmp.resolve("n").toString(), "--steps", "1");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("nothing.jsonl", "nothing to train on").doesNotContain("done:");
    }

    @Test
    void badRegexesAndThreadCountsGetCleanErrors() throws IOException {
        String[][] cases = {{"--target-regex", ".*(q_proj", "target regex"}, {"--rank-pattern", "q_(proj=2", "rank_pattern key"},
                {"--threads", "100000", "--threads"}, {"--threads", "0", "--threads"}};
        for (String[] c : cases) {
            CliRunner.Run r = CliRunner.run(run(tmp.resolve("re"), "--steps", "1", c[0], c[1]));
            assertThat(r.code()).as(String.join(" ", c)).isEqualTo(1);
            assertThat(r.err()).as(String.join(" ", c)).contains(c[2]).doesNotContain("internal error", "\tat ");
        }
    }

    @Test
    void aTornMetricsLineDoesNotBlockResume() throws IOException {
        Path out = tmp.resolve("torn");
        assertThat(CliRunner.run(run(out, "--steps", "4", "--save-every", "2", "--lr", "1e-2")).code()).isZero();
        byte[] finished = Files.readAllBytes(out.resolve("adapter_model.safetensors"));
        Files.writeString(out.resolve("metrics.jsonl"), "{\"step\": 5, \"lo", java.nio.file.StandardOpenOption.APPEND); // killed mid-write
        CliRunner.Run r = CliRunner.run("train", "--resume", out.resolve("checkpoint-2").toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("unreadable line");
        assertThat(Files.readAllBytes(out.resolve("adapter_model.safetensors"))).isEqualTo(finished);
        assertThat(Files.readAllLines(out.resolve("metrics.jsonl"))).hasSize(4);
    }

    @Test
    void aFinishedRunSaysSoAndCanBeTrainedFurther() throws IOException {
        Path out = tmp.resolve("finished");
        assertThat(CliRunner.run(run(out, "--steps", "4", "--save-every", "2", "--lr", "1e-2")).code()).isZero();
        byte[] four = Files.readAllBytes(out.resolve("adapter_model.safetensors"));
        CliRunner.Run again = CliRunner.run("train", "--resume", out.toString(), "--lr", "5");
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.err()).contains("nothing to train", "ignored: --lr").doesNotContain("NaN");
        assertThat(Files.readAllBytes(out.resolve("adapter_model.safetensors"))).isEqualTo(four);
        CliRunner.Run more = CliRunner.run("train", "--resume", out.toString(), "--steps", "6");
        assertThat(more.code()).as(more.err()).isZero();
        assertThat(more.err()).contains("done: 6 steps");
        assertThat(Files.readAllLines(out.resolve("metrics.jsonl"))).hasSize(6);
        assertThat(Files.readAllBytes(out.resolve("adapter_model.safetensors"))).isNotEqualTo(four);
    }

    @Test
    void aConfigFileIsTheCheckpointsOptionsAndTheCommandLineWins() throws IOException {
        Path first = tmp.resolve("first");
        assertThat(CliRunner.run(run(first, "--steps", "3", "--save-every", "3", "--lr", "1e-2", "--seed", "5")).code()).isZero();
        // the checkpoint's trainer_state.json, given as --config with a new --out, repeats the run exactly
        Path again = tmp.resolve("again");
        CliRunner.Run r = CliRunner.run("train", "--config", first.resolve("checkpoint-3/trainer_state.json").toString(), "--out", again.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Files.readAllBytes(again.resolve("adapter_model.safetensors"))).isEqualTo(Files.readAllBytes(first.resolve("adapter_model.safetensors")));

        // a hand-written partial file: its settings apply, an option given on the command line wins over it
        Path cfg = tmp.resolve("run.json");
        Files.writeString(cfg, "{\"model\": \"" + BASE.toString().replace("\\", "/") + "\", \"data\": {\"train\": \"" + referenceData()
                + "\"}, \"lora\": {\"r\": 3, \"target_modules\": [\"q_proj\"]}, \"train\": {\"steps\": 2, \"seq_len\": 12, \"batch_size\": 1,"
                + " \"optimizer\": {\"lr\": 0.01}}}");
        Path mixed = tmp.resolve("mixed");
        r = CliRunner.run("train", "--config", cfg.toString(), "--out", mixed.toString(), "--steps", "4");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("done: 4 steps");
        JsonNode adapter = new ObjectMapper().readTree(mixed.resolve("adapter_config.json").toFile());
        assertThat(adapter.get("r").asInt()).isEqualTo(3);
        assertThat(adapter.get("target_modules").toString()).contains("q_proj").doesNotContain("v_proj");

        // a field the form does not have is named, nothing is written
        Files.writeString(cfg, "{\"train\": {\"learning_rate\": 0.1}}");
        r = CliRunner.run("train", "--config", cfg.toString(), "--model", BASE.toString(), "--data", referenceData().toString(), "--out", tmp.resolve("bad").toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("run.json", "unknown field 'train.learning_rate'").doesNotContain("\tat ");
        assertThat(tmp.resolve("bad")).doesNotExist();
    }
}
