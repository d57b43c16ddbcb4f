package dev.lora4j.cli;

import dev.lora4j.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** `--model .` from inside a sharded checkpoint (a real process, to have that working directory). */
class CurrentDirectoryTest {
    @TempDir
    Path tmp;

    @Test
    void aShardedModelLoadsAsTheCurrentDirectory() throws IOException, InterruptedException {
        Path model = Files.createDirectories(tmp.resolve("sharded"));
        try (var files = Files.list(TestPaths.fixture("qwen2-tied-bias"))) {
            for (Path f : files.toList()) Files.copy(f, model.resolve(f.getFileName()));
        }
        assertThat(model.resolve("model.safetensors.index.json")).exists();
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                "dev.lora4j.cli.Main", "eval", "--model", ".", "--data", "eval.jsonl", "--json"))
                .directory(model.toFile()).redirectErrorStream(true).start();
        String out;
        try {
            out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        } finally {
            p.destroyForcibly();
        }
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("\"loss\"");
    }
}
