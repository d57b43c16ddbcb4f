package dev.lora4j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.TestPaths;
import dev.lora4j.cli.CliRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * QLoRA from the command line: LoRA trained over the bundled model quantized to NF4 at load is an
 * ordinary PEFT adapter, used over the NF4 base and over the full-precision base alike; the option is
 * recorded for --resume, checked, and refused with --full. Gradient checkpointing changes memory, not the adapter.
 */
class QuantizedTrainingTest {
    @TempDir
    Path tmp;

    static final Path MODEL = TestPaths.bundledModel(), DATA = TestPaths.repo("examples/past-tense.jsonl");

    static double loss(CliRunner.Run r) throws IOException {
        assertThat(r.code()).as(r.err()).isZero();
        return new ObjectMapper().readTree(r.lastLine()).get("loss").asDouble();
    }

    @Test
    void nf4TrainedAdapterWorksOverBothBases() throws IOException {
        Path out = tmp.resolve("qlora");
        CliRunner.Run r = CliRunner.run("train", "--model", MODEL.toString(), "--data", DATA.toString(), "--out", out.toString(),
                "--quantize", "nf4", "--steps", "30", "--batch-size", "4", "--lr", "3e-3", "--save-every", "15");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out() + r.err()).contains("quantized 43 weights to nf4");
        assertThat(Files.readString(out.resolve("checkpoint-15/trainer_state.json"))).contains("\"quantize\" : \"nf4\"");
        double base = loss(CliRunner.run("eval", "--model", MODEL.toString(), "--data", DATA.toString(), "--json"));
        double overNf4 = loss(CliRunner.run("eval", "--model", MODEL.toString(), "--quantize", "nf4", "--adapter", out.toString(), "--data", DATA.toString(), "--json"));
        double overFull = loss(CliRunner.run("eval", "--model", MODEL.toString(), "--adapter", out.toString(), "--data", DATA.toString(), "--json"));
        assertThat(overNf4).as("trained over NF4, evaluated over NF4").isLessThan(base);
        assertThat(overFull).as("the same adapter over the full-precision base").isLessThan(base);
        assertThat(Math.abs(overFull - overNf4)).as("gap between the two bases").isLessThan(0.2 * (base - overNf4));
        CliRunner.Run g = CliRunner.run("generate", "--model", MODEL.toString(), "--quantize", "int8", "--prompt", "Once upon a time",
                "--max-new-tokens", "8", "--temperature", "0");
        assertThat(g.code()).as(g.err()).isZero();
        assertThat(g.err()).contains("quantized 43 weights to int8");
    }

    @Test
    void gradientCheckpointingTrainsTheSameAdapterOverNf4() throws IOException {
        Path plain = tmp.resolve("plain"), recomputed = tmp.resolve("recomputed");
        for (Path out : new Path[] {plain, recomputed}) {
            var args = new java.util.ArrayList<>(java.util.List.of("train", "--model", MODEL.toString(), "--data", DATA.toString(), "--out", out.toString(),
                    "--quantize", "nf4", "--steps", "6", "--batch-size", "4", "--dropout", "0.1", "--save-every", "3"));
            if (out == recomputed) args.add("--gradient-checkpointing");
            CliRunner.Run r = CliRunner.run(args.toArray(String[]::new));
            assertThat(r.code()).as(r.err()).isZero();
        }
        assertThat(Files.readAllBytes(recomputed.resolve("adapter_model.safetensors"))).isEqualTo(Files.readAllBytes(plain.resolve("adapter_model.safetensors")));
        assertThat(Files.readString(recomputed.resolve("checkpoint-3/trainer_state.json"))).contains("\"gradient_checkpointing\" : true");
        assertThat(Files.readString(plain.resolve("checkpoint-3/trainer_state.json"))).contains("\"gradient_checkpointing\" : false");
        // the plain run resumed from its checkpoint-3 with the option: it applies on --resume, and the adapter is the same
        byte[] plainAdapter = Files.readAllBytes(plain.resolve("adapter_model.safetensors"));
        CliRunner.Run r = CliRunner.run("train", "--resume", plain.resolve("checkpoint-3").toString(), "--gradient-checkpointing");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).doesNotContain("ignored");
        assertThat(Files.readAllBytes(plain.resolve("adapter_model.safetensors"))).isEqualTo(plainAdapter);
        assertThat(Files.readString(plain.resolve("checkpoint-6/trainer_state.json"))).contains("\"gradient_checkpointing\" : true");
    }

    @Test
    void badQuantizeOptionsAreRefused() {
        CliRunner.Run r = CliRunner.run("train", "--model", MODEL.toString(), "--data", DATA.toString(), "--out", tmp.resolve("x").toString(), "--quantize", "fp4");
        assertThat(r.code()).isNotZero();
        assertThat(r.err()).contains("--quantize must be int8 or nf4, got 'fp4'");
        r = CliRunner.run("train", "--model", MODEL.toString(), "--data", DATA.toString(), "--out", tmp.resolve("y").toString(), "--quantize", "nf4", "--full");
        assertThat(r.code()).isNotZero();
        assertThat(r.err()).contains("--quantize freezes the base in nf4; --full trains every weight");
        assertThat(tmp.resolve("y")).doesNotExist();
    }
}
